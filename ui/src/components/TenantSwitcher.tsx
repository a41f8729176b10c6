import { useState } from "react";
import { useNavigate } from "react-router";
import { ApiError } from "../api/errors";
import { useQuery, useSignedIn } from "../api/hooks";
import { roleLabel } from "../api/roles";
import { sessions } from "../api/session";
import { shortId } from "../format";
import { graphql } from "../gql";
import { ErrorNotice } from "./ErrorNotice";

const MEMBERSHIPS = graphql(`query Memberships { viewer { memberships { tenantId role } } }`);

/** The current tenant; a menu to switch when the user belongs to several. */
export function TenantSwitcher() {
  const session = useSignedIn();
  const navigate = useNavigate();
  const { data } = useQuery(MEMBERSHIPS);
  const [error, setError] = useState<ApiError>();
  const memberships = data?.viewer.memberships ?? [];

  if (memberships.length < 2) {
    return (
      <div className="tenant" data-testid="tenant-name">
        {session.tenant.name}
      </div>
    );
  }
  const name = (id: string) => (id === session.tenant.id ? session.tenant.name : sessions.tenantName(id) ?? shortId(id));
  const switchTo = async (tenantId: string) => {
    setError(undefined);
    try {
      await sessions.switchTenant(tenantId);
      navigate("/", { replace: true });
    } catch (err) {
      setError(ApiError.from(err));
    }
  };
  return (
    <div className="tenant">
      <select
        aria-label="Tenant"
        data-testid="tenant-switcher"
        value={session.tenant.id}
        onChange={(e) => switchTo(e.target.value)}
      >
        {memberships.map((m) => (
          <option key={m.tenantId} value={m.tenantId}>
            {name(m.tenantId)} ({roleLabel(m.role)})
          </option>
        ))}
      </select>
      <ErrorNotice error={error} />
    </div>
  );
}
