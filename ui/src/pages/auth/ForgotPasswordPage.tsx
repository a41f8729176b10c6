import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { ApiError, fieldErrors } from "../../api/errors";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { AuthCard } from "./AuthCard";

/** `/forgot-password`: asks for a reset link. The answer never says whether the address has an account. */
export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [pending, setPending] = useState(false);
  const [emailed, setEmailed] = useState<boolean>();
  const [error, setError] = useState<ApiError>();
  const errors = fieldErrors(error);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      setEmailed(await sessions.requestPasswordReset(email));
    } catch (err) {
      setError(ApiError.from(err));
    } finally {
      setPending(false);
    }
  };

  return (
    <AuthCard
      title="Reset your password"
      footer={
        <>
          Remembered it? <Link to="/signin">Sign in</Link>
        </>
      }
    >
      {emailed === true && (
        <div className="notice notice-ok" role="status">
          If {email} has an account, a link to choose a new password is on its way. It works once and expires
          soon.
        </div>
      )}
      {emailed === false && (
        <div className="notice notice-warn" role="status">
          This server sends no email. Ask an operator for a reset link (<code>voxedge user reset-link</code>).
        </div>
      )}
      {emailed === undefined && (
        <form onSubmit={submit} noValidate>
          <ErrorNotice error={error} />
          <Field label="Email" error={errors.email}>
            <input type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
          </Field>
          <button type="submit" className="primary block" disabled={pending || !email}>
            {pending ? "Sending…" : "Email me a link"}
          </button>
        </form>
      )}
    </AuthCard>
  );
}
