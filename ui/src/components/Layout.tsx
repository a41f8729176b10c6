import type { ReactNode } from "react";
import { useSignedIn } from "../api/hooks";
import { can, roleLabel, type Permission } from "../api/roles";
import { sessions } from "../api/session";
import { Link, navigate, useLocation } from "../router";
import { TenantSwitcher } from "./TenantSwitcher";

const NAV: { to: string; label: string; permission: Permission }[] = [
  { to: "/agents", label: "Agents", permission: "ReadAgents" },
  { to: "/calls", label: "Calls", permission: "ReadCalls" },
  { to: "/talk", label: "Talk to agent", permission: "CreateSessionTokens" },
  { to: "/keys", label: "API keys", permission: "ManageApiKeys" },
  { to: "/members", label: "Members", permission: "ReadMembers" },
  { to: "/webhooks", label: "Webhooks", permission: "ManageWebhooks" },
  { to: "/audit", label: "Audit log", permission: "ReadAuditLog" },
];

/** The first screen the role may see. */
export function homePath(role: Parameters<typeof can>[0]): string {
  return NAV.find((item) => can(role, item.permission))?.to ?? "/members";
}

export function Layout({ children }: { children: ReactNode }) {
  const session = useSignedIn();
  const { path } = useLocation();
  const signOut = async () => {
    await sessions.logout();
    navigate("/signin");
  };
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span>voxedge</span>
        </div>
        <TenantSwitcher />
        <nav>
          {NAV.filter((item) => can(session.role, item.permission)).map((item) => (
            <Link key={item.to} to={item.to} className={path.startsWith(item.to) ? "active" : undefined}>
              {item.label}
            </Link>
          ))}
        </nav>
        <div className="who">
          <div className="who-email" data-testid="signed-in-as">
            {session.user.email}
          </div>
          <div className="muted">{roleLabel(session.role)}</div>
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </aside>
      <main className="content">{children}</main>
    </div>
  );
}
