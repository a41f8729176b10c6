import { useState } from "react";
import { Link } from "react-router";
import { useMutation, useQuery } from "../api/hooks";
import { formatTime } from "../format";
import { graphql } from "../gql";
import { ErrorNotice } from "./ErrorNotice";

const VERIFICATION = graphql(`
  query EmailVerification { viewer { user { id email emailVerified verifyEmailBy } } }
`);

const RESEND = graphql(`
  mutation ResendVerificationEmail { resendVerificationEmail { emailed link } }
`);

/**
 * Above every signed-in page while the user's email address is unverified: until when the account works
 * without it, and a new link on request. Once that time is over every tenant operation answers
 * `EMAIL_NOT_VERIFIED`, so this is where the way out is. On a server that sends no email the new link is
 * shown here instead of mailed.
 */
export function VerifyEmailBanner() {
  const { data } = useQuery(VERIFICATION);
  const resend = useMutation(RESEND);
  const [sent, setSent] = useState<{ emailed: boolean; link?: string | null }>();
  const user = data?.viewer.user;
  if (!user || user.emailVerified) return null;

  const due = user.verifyEmailBy ? new Date(user.verifyEmailBy) : null;
  const overdue = due !== null && due.getTime() <= Date.now();
  const send = async () => {
    const result = await resend.run();
    if (result) setSent(result.resendVerificationEmail);
  };

  return (
    <section
      className={`notice verify-banner ${overdue ? "notice-error" : "notice-warn"}`}
      aria-label="Account verification"
    >
      <p>
        {overdue ? (
          <>
            <strong>Verify {user.email} to go on.</strong> The time this account works without a verified
            email address is over.
          </>
        ) : (
          <>
            Please verify {user.email}
            {due && <> by {formatTime(user.verifyEmailBy)}</>}: follow the link we sent you.
          </>
        )}
      </p>
      {sent ? (
        <p role="status">
          {sent.emailed ? (
            <>A new link is on its way to {user.email}; earlier links no longer work.</>
          ) : (
            <>
              This server sends no email, so here is your link:{" "}
              {sent.link && <Link to={localPath(sent.link)}>verify {user.email}</Link>}
            </>
          )}
        </p>
      ) : (
        <button type="button" disabled={resend.pending} onClick={send}>
          {resend.pending ? "Sending…" : "Ask for a new link"}
        </button>
      )}
      <ErrorNotice error={resend.error} />
    </section>
  );
}

/** The link's path and query: the portal follows it itself, whatever origin the server named. */
function localPath(link: string): string {
  const url = new URL(link, window.location.origin);
  return `${url.pathname}${url.search}`;
}
