import { useState, type FormEvent } from "react";
import { fieldErrors } from "../../api/errors";
import { useMutation, useQuery } from "../../api/hooks";
import { roleLabel, type Role } from "../../api/roles";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { SecretOnce } from "../../components/SecretOnce";
import { formatTime } from "../../format";
import { graphql } from "../../gql";

const INVITES = graphql(`query Invites { invites(first: 100) { nodes { id email role invitedBy createdAt expiresAt } } }`);
const INVITE = graphql(`
  mutation InviteMember($input: InviteMemberInput!) { inviteMember(input: $input) { link emailed invite { id email } } }
`);
const REVOKE_INVITE = graphql(`mutation RevokeInvite($id: ID!) { revokeInvite(id: $id) }`);

/** Pending invitations; owners and admins invite by email and deliver the link themselves. */
export function InvitesSection({ manage, assignable }: { manage: boolean; assignable: Role[] }) {
  const invites = useQuery(INVITES);
  const invite = useMutation(INVITE);
  const revoke = useMutation(REVOKE_INVITE);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>(assignable.includes("DEVELOPER") ? "DEVELOPER" : assignable[0]);
  const [link, setLink] = useState<{ email: string; url: string }>();
  const [emailedTo, setEmailedTo] = useState<string>();
  const errors = fieldErrors(invite.error);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setEmailedTo(undefined);
    const data = await invite.run({ input: { email, role } });
    if (data) {
      // The server emails the link when it can; otherwise the inviter hands it over.
      const { link: url, emailed, invite: sent } = data.inviteMember;
      if (emailed) setEmailedTo(sent.email);
      else setLink({ email: sent.email, url });
      setEmail("");
      invites.reload();
    }
  };

  return (
    <section>
      <h2>Invitations</h2>
      {manage &&
        (link ? (
          <SecretOnce label={`Send this link to ${link.email}`} secret={link.url} onDone={() => setLink(undefined)} />
        ) : (
          <form className="card" onSubmit={submit} noValidate aria-label="Invite a member">
            <ErrorNotice error={invite.error} />
            {emailedTo && (
              <div className="notice notice-ok" role="status">
                An invitation was emailed to {emailedTo}.
              </div>
            )}
            <div className="grid grid-compact">
              <Field label="Email" error={errors.email}>
                <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
              </Field>
              <Field label="Role" error={errors.role}>
                <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
                  {assignable.map((r) => (
                    <option key={r} value={r}>
                      {roleLabel(r)}
                    </option>
                  ))}
                </select>
              </Field>
              <div className="field field-submit">
                <button type="submit" className="primary" disabled={invite.pending}>
                  Invite
                </button>
              </div>
            </div>
          </form>
        ))}
      <ErrorNotice error={invites.error ?? revoke.error} />
      {invites.data && invites.data.invites.nodes.length === 0 ? (
        <p className="muted">No pending invitations.</p>
      ) : (
        <table className="table cards">
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Invited</th>
              <th>Expires</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {invites.data?.invites.nodes.map((i) => (
              <tr key={i.id}>
                <td data-label="Email" className="card-title wrap-anywhere">
                  {i.email}
                </td>
                <td data-label="Role">{roleLabel(i.role)}</td>
                <td data-label="Invited">{formatTime(i.createdAt)}</td>
                <td data-label="Expires">{formatTime(i.expiresAt)}</td>
                <td className="actions">
                  {manage && (
                    <ConfirmButton
                      confirm="Withdraw this invitation?"
                      onConfirm={async () => {
                        if (await revoke.run({ id: i.id })) invites.reload();
                      }}
                    >
                      Withdraw
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
