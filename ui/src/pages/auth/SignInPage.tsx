import { useState, type FormEvent } from "react";
import { ApiError, fieldErrors } from "../../api/errors";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { Link } from "react-router";
import { AuthCard } from "./AuthCard";

/** Signing in re-renders the app, which then goes on to the page that asked for it (`?next=`). */
export function SignInPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(sessions.endReason());
  const errors = fieldErrors(error ?? undefined);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      await sessions.login({ email, password });
    } catch (err) {
      setError(ApiError.from(err));
      setPending(false);
    }
  };

  return (
    <AuthCard
      title="Sign in"
      footer={
        <>
          New here? <Link to="/signup">Create an account</Link>
          <br />
          <Link to="/forgot-password">Forgot your password?</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        <ErrorNotice error={error} />
        <Field label="Email" error={errors.email}>
          <input type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </Field>
        <Field label="Password" error={errors.password}>
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </Field>
        <button type="submit" className="primary block" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </AuthCard>
  );
}
