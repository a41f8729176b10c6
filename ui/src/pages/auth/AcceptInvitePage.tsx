import { useState, type FormEvent } from "react";
import { ApiError, fieldErrors } from "../../api/errors";
import { useSession } from "../../api/hooks";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { useNavigate, useSearchParams } from "react-router";
import { AuthCard } from "./AuthCard";

/** `/accept-invite?token=...`: join a tenant, signed in as the invited email or with a password. */
export function AcceptInvitePage() {
  const session = useSession();
  const [query] = useSearchParams();
  const navigate = useNavigate();
  const [token, setToken] = useState(query.get("token") ?? "");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError>();
  const errors = fieldErrors(error);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await sessions.acceptInvite(
        session ? { token } : { token, password, name: name || undefined },
      );
      navigate("/", { replace: true });
    } catch (err) {
      setError(ApiError.from(err));
      setPending(false);
    }
  };

  return (
    <AuthCard title="Join a workspace">
      <form onSubmit={submit} noValidate>
        <ErrorNotice error={error} />
        {session ? (
          <p className="muted">
            You are signed in as {session.user.email}; the invitation must be for this email.
          </p>
        ) : (
          <p className="muted">
            Enter the password of your existing account (the invited email), or choose one to create it.
          </p>
        )}
        <Field label="Invitation token" error={errors.token}>
          <input value={token} onChange={(e) => setToken(e.target.value)} />
        </Field>
        {!session && (
          <>
            <Field label="Your name" error={errors.name} hint="For a new account.">
              <input autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
            </Field>
            <Field label="Password" error={errors.password}>
              <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
            </Field>
          </>
        )}
        <button type="submit" className="primary block" disabled={pending || !token}>
          {pending ? "Joining…" : "Join"}
        </button>
      </form>
    </AuthCard>
  );
}
