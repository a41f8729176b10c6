import { useState } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can, grantableRoles, roleLabel, type Role } from "../../api/roles";
import { sessions } from "../../api/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { graphql } from "../../gql";
import type { MemberFieldsFragment } from "../../gql/graphql";
import { InvitesSection } from "./InvitesSection";

graphql(`fragment MemberFields on Member { id email name role joinedAt }`);
const MEMBERS = graphql(`query Members { members(first: 100) { nodes { ...MemberFields } } }`);
const CHANGE_ROLE = graphql(`
  mutation ChangeMemberRole($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { ...MemberFields } }
`);
const REMOVE_MEMBER = graphql(`mutation RemoveMember($userId: ID!) { removeMember(userId: $userId) { id } }`);
const TRANSFER = graphql(`mutation TransferOwnership($userId: ID!) { transferOwnership(userId: $userId) { id } }`);

export function MembersPage() {
  const session = useSignedIn();
  const navigate = useNavigate();
  const members = useQuery(MEMBERS);
  const changeRole = useMutation(CHANGE_ROLE);
  const remove = useMutation(REMOVE_MEMBER);
  const transfer = useMutation(TRANSFER);
  const [notice, setNotice] = useState<string>();
  const manage = can(session.role, "ManageMembers");
  // Ownership moves only by transfer, so "owner" is never offered here.
  const assignable = grantableRoles(session.role).filter((r) => r !== "OWNER");
  const manageable = (m: MemberFieldsFragment) =>
    manage && m.role !== "OWNER" && m.id !== session.user.id && assignable.includes(m.role);

  const leave = async () => {
    if (await remove.run({ userId: session.user.id })) {
      await sessions.logout();
      navigate("/signin");
    }
  };
  const afterTransfer = async () => {
    // Our role changed: new tokens carry it.
    await sessions.refresh();
    setNotice("Ownership transferred; you are now an admin.");
    members.reload();
  };

  return (
    <>
      <PageHeader title="Members" />
      <p className="muted">
        {manage
          ? "Everyone in this workspace. Change a role, remove someone (their sessions end at once), or invite people below."
          : "Everyone in this workspace. Owners and admins manage members."}
      </p>
      {notice && (
        <div className="notice notice-ok" role="status">
          {notice}
        </div>
      )}
      <ErrorNotice error={changeRole.error ?? remove.error ?? transfer.error} />
      {members.error && <LoadError error={members.error} onRetry={members.reload} />}
      {!members.data && !members.error && <Skeleton rows={3} label="Loading members" />}
      {members.data && (
        <table className="table cards">
          <thead>
            <tr>
              <th>Name</th>
              <th>Email</th>
              <th>Role</th>
              <th>Joined</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.data.members.nodes.map((m) => (
              <tr key={m.id} data-testid="member-row">
                <td data-label="Name" className="card-title">
                  {m.name ?? "—"}
                  {m.id === session.user.id && <span className="muted"> (you)</span>}
                </td>
                <td data-label="Email" className="wrap-anywhere">
                  {m.email}
                </td>
                <td data-label="Role">
                  {manageable(m) ? (
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      disabled={changeRole.pending}
                      onChange={async (e) => {
                        const role = e.target.value as Role;
                        const changed = await changeRole.run({ input: { userId: m.id, role } });
                        if (changed) {
                          setNotice(`${m.email} is now ${roleLabel(changed.changeMemberRole.role).toLowerCase()}.`);
                          members.reload();
                        }
                      }}
                    >
                      {assignable.map((r) => (
                        <option key={r} value={r}>
                          {roleLabel(r)}
                        </option>
                      ))}
                    </select>
                  ) : (
                    roleLabel(m.role)
                  )}
                </td>
                <td data-label="Joined">{formatTime(m.joinedAt)}</td>
                <td className="actions">
                  {manageable(m) && (
                    <ConfirmButton
                      confirm="Remove? Their sessions end at once."
                      onConfirm={async () => {
                        if (await remove.run({ userId: m.id })) members.reload();
                      }}
                    >
                      Remove
                    </ConfirmButton>
                  )}
                  {can(session.role, "TransferOwnership") && m.id !== session.user.id && (
                    <ConfirmButton
                      danger={false}
                      confirm="Make them the owner? You become an admin."
                      onConfirm={async () => {
                        if (await transfer.run({ userId: m.id })) await afterTransfer();
                      }}
                    >
                      Make owner
                    </ConfirmButton>
                  )}
                  {m.id === session.user.id && m.role !== "OWNER" && (
                    <ConfirmButton confirm="Leave this workspace?" onConfirm={leave}>
                      Leave
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <InvitesSection manage={manage} assignable={assignable} />
    </>
  );
}
