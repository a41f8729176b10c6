import { useState, type FormEvent } from "react";
import { ApiError, fieldErrors } from "../../api/errors";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { Link } from "react-router";
import { AuthCard } from "./AuthCard";

export function SignUpPage() {
  const [form, setForm] = useState({ name: "", email: "", password: "", tenantName: "" });
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError>();
  const errors = fieldErrors(error);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      // Signed in: the app re-renders and leaves this page.
      await sessions.signUp({ ...form, name: form.name || undefined });
    } catch (err) {
      setError(ApiError.from(err));
      setPending(false);
    }
  };

  return (
    <AuthCard
      title="Create your account"
      footer={
        <>
          Already have an account? <Link to="/signin">Sign in</Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate>
        <ErrorNotice error={error} />
        <Field label="Your name" error={errors.name}>
          <input autoComplete="name" value={form.name} onChange={set("name")} />
        </Field>
        <Field label="Company" error={errors.tenantName} hint="A new workspace that you will own.">
          <input autoComplete="organization" value={form.tenantName} onChange={set("tenantName")} />
        </Field>
        <Field label="Email" error={errors.email}>
          <input type="email" autoComplete="email" value={form.email} onChange={set("email")} />
        </Field>
        <Field
          label="Password"
          error={errors.password}
          hint="At least 10 characters; not a common password; not your email."
        >
          <input type="password" autoComplete="new-password" value={form.password} onChange={set("password")} />
        </Field>
        <button type="submit" className="primary block" disabled={pending}>
          {pending ? "Creating…" : "Create account"}
        </button>
      </form>
    </AuthCard>
  );
}
