import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError, fieldErrors } from "../../api/errors";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { AuthCard } from "./AuthCard";

/** `/reset-password?token=...`, the emailed link: a new password, then every session of the account ends. */
export function ResetPasswordPage() {
  const [query] = useSearchParams();
  const token = query.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<ApiError>();
  const errors = fieldErrors(error);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await sessions.resetPassword({ token, password });
      setDone(true);
    } catch (err) {
      setError(ApiError.from(err));
    } finally {
      setPending(false);
    }
  };

  return (
    <AuthCard
      title="Choose a new password"
      footer={
        <>
          Link expired or used? <Link to="/forgot-password">Ask for a new one</Link>
        </>
      }
    >
      {done ? (
        <>
          <div className="notice notice-ok" role="status">
            Your password is changed, and every session of your account was signed out.
          </div>
          <p>
            <Link to="/signin">Sign in with the new password</Link>
          </p>
        </>
      ) : (
        <form onSubmit={submit} noValidate>
          <ErrorNotice error={error} />
          {!token && <p className="muted">This link has no token. Open the link from the email as it is.</p>}
          <Field
            label="New password"
            error={errors.password}
            hint="At least 10 characters; not a common password; not your email."
          >
            <input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </Field>
          <button type="submit" className="primary block" disabled={pending || !token || !password}>
            {pending ? "Saving…" : "Set the new password"}
          </button>
        </form>
      )}
    </AuthCard>
  );
}
