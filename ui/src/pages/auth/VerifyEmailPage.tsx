import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError } from "../../api/errors";
import { useSession } from "../../api/hooks";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { AuthCard } from "./AuthCard";

/**
 * `/verify-email?token=...`, the emailed link. Verifying takes a click rather than happening on load: a link
 * works once, and mail scanners or a reload must not spend it.
 */
export function VerifyEmailPage() {
  const session = useSession();
  const [query] = useSearchParams();
  const token = query.get("token") ?? "";
  const [pending, setPending] = useState(false);
  const [verified, setVerified] = useState<string>();
  const [error, setError] = useState<ApiError>();

  const verify = async () => {
    setPending(true);
    setError(undefined);
    try {
      setVerified(await sessions.verifyEmail(token));
    } catch (err) {
      setError(ApiError.from(err));
    } finally {
      setPending(false);
    }
  };

  const onward = session ? <Link to="/">Go to the portal</Link> : <Link to="/signin">Sign in</Link>;
  return (
    <AuthCard title="Verify your email">
      {verified ? (
        <>
          <div className="notice notice-ok" role="status">
            {verified} is verified.
          </div>
          <p>{onward}</p>
        </>
      ) : (
        <>
          <ErrorNotice error={error} />
          {!token && <p className="muted">This link has no token. Open the link from the email as it is.</p>}
          <button type="button" className="primary block" disabled={pending || !token} onClick={verify}>
            {pending ? "Verifying…" : "Verify my email"}
          </button>
          {error && <p>{onward}</p>}
        </>
      )}
    </AuthCard>
  );
}
