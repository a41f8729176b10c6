import { useState } from "react";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can, grantableRoles, roleLabel, type Role } from "../../api/roles";
import { sessions } from "../../api/session";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { navigate } from "../../router";
import { InvitesSection } from "./InvitesSection";

interface Member {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  joinedAt: string;
}

const MEMBER_FIELDS = "id email name role joinedAt";
const MEMBERS = `query Members { members(first: 100) { nodes { ${MEMBER_FIELDS} } } }`;
const CHANGE_ROLE = `mutation ChangeMemberRole($input: ChangeMemberRoleInput!) { changeMemberRole(input: $input) { ${MEMBER_FIELDS} } }`;
const REMOVE_MEMBER = `mutation RemoveMember($userId: ID!) { removeMember(userId: $userId) { id } }`;
const TRANSFER = `mutation TransferOwnership($userId: ID!) { transferOwnership(userId: $userId) { id } }`;

export function MembersPage() {
  const session = useSignedIn();
  const members = useQuery<{ members: { nodes: Member[] } }>(MEMBERS);
  const changeRole = useMutation<{ changeMemberRole: Member }>(CHANGE_ROLE);
  const remove = useMutation<{ removeMember: { id: string } }>(REMOVE_MEMBER);
  const transfer = useMutation<{ transferOwnership: { id: string } }>(TRANSFER);
  const [notice, setNotice] = useState<string>();
  const manage = can(session.role, "ManageMembers");
  // Ownership moves only by transfer, so "owner" is never offered here.
  const assignable = grantableRoles(session.role).filter((r) => r !== "OWNER");
  const manageable = (m: Member) => manage && m.role !== "OWNER" && m.id !== session.user.id && assignable.includes(m.role);

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
      {notice && <div className="notice notice-ok">{notice}</div>}
      <ErrorNotice error={members.error ?? changeRole.error ?? remove.error ?? transfer.error} />
      <table className="table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Email</th>
            <th>Role</th>
            <th>Joined</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {members.data?.members.nodes.map((m) => (
            <tr key={m.id}>
              <td>
                {m.name ?? "—"}
                {m.id === session.user.id && <span className="muted"> (you)</span>}
              </td>
              <td>{m.email}</td>
              <td>
                {manageable(m) ? (
                  <select
                    aria-label={`Role of ${m.email}`}
                    value={m.role}
                    disabled={changeRole.pending}
                    onChange={async (e) => {
                      if (await changeRole.run({ input: { userId: m.id, role: e.target.value } })) members.reload();
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
              <td>{formatTime(m.joinedAt)}</td>
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
      <InvitesSection manage={manage} assignable={assignable} />
    </>
  );
}
