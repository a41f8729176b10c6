import { Fragment, useEffect, useState, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation, useParams, useSearchParams } from "react-router";
import { useSession, useSignedIn } from "./api/hooks";
import { can, roleLabel, type Permission } from "./api/roles";
import { sessions } from "./api/session";
import { Layout } from "./components/Layout";
import { homePath } from "./components/nav";
import { PageHeader } from "./components/PageHeader";
import { AgentPage } from "./pages/agents/AgentPage";
import { AgentsPage } from "./pages/agents/AgentsPage";
import { NewAgentPage } from "./pages/agents/NewAgentPage";
import { AuditPage } from "./pages/audit/AuditPage";
import { BillingPage } from "./pages/billing/BillingPage";
import { AcceptInvitePage } from "./pages/auth/AcceptInvitePage";
import { ForgotPasswordPage } from "./pages/auth/ForgotPasswordPage";
import { ResetPasswordPage } from "./pages/auth/ResetPasswordPage";
import { SignInPage } from "./pages/auth/SignInPage";
import { SignUpPage } from "./pages/auth/SignUpPage";
import { VerifyEmailPage } from "./pages/auth/VerifyEmailPage";
import { CallPage } from "./pages/calls/CallPage";
import { CallsPage } from "./pages/calls/CallsPage";
import { ApiKeysPage } from "./pages/keys/ApiKeysPage";
import { MembersPage } from "./pages/members/MembersPage";
import { LlmKeysPage } from "./pages/settings/LlmKeysPage";
import { SettingsPage } from "./pages/settings/SettingsPage";
import { TelephonyPage } from "./pages/settings/TelephonyPage";
import { WorkspacePage } from "./pages/settings/WorkspacePage";
import { TalkPage } from "./pages/talk/TalkPage";
import { WebhookPage } from "./pages/webhooks/WebhookPage";
import { WebhooksPage } from "./pages/webhooks/WebhooksPage";

export function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/signin" element={<SignedOut><SignInPage /></SignedOut>} />
        <Route path="/signup" element={<SignedOut><SignUpPage /></SignedOut>} />
        <Route path="/accept-invite" element={<AcceptInvitePage />} />
        {/* The emailed links; they work signed in or not. */}
        <Route path="/verify-email" element={<VerifyEmailPage />} />
        <Route path="/forgot-password" element={<ForgotPasswordPage />} />
        <Route path="/reset-password" element={<ResetPasswordPage />} />
        <Route element={<SignedIn />}>
          <Route index element={<Home />} />
          <Route path="agents" element={<Allowed to="ReadAgents"><AgentsPage /></Allowed>} />
          <Route path="agents/new" element={<Allowed to="EditAgents"><NewAgentPage /></Allowed>} />
          <Route path="agents/:id" element={<Allowed to="ReadAgents"><WithId render={(id) => <AgentPage id={id} />} /></Allowed>} />
          <Route path="calls" element={<Allowed to="ReadCalls"><CallsPage /></Allowed>} />
          <Route path="calls/:id" element={<Allowed to="ReadCalls"><WithId render={(id) => <CallPage id={id} />} /></Allowed>} />
          <Route path="talk" element={<Allowed to="CreateSessionTokens"><TalkPage /></Allowed>} />
          <Route path="audit" element={<Allowed to="ReadAuditLog"><AuditPage /></Allowed>} />
          <Route path="settings" element={<SettingsPage />} />
          <Route path="settings/workspace" element={<WorkspacePage />} />
          <Route path="settings/billing" element={<Allowed to="ReadBilling"><BillingPage /></Allowed>} />
          <Route path="settings/members" element={<Allowed to="ReadMembers"><MembersPage /></Allowed>} />
          <Route path="settings/llm-keys" element={<Allowed to="ReadAgents"><LlmKeysPage /></Allowed>} />
          <Route path="settings/telephony" element={<Allowed to="ReadTelephony"><TelephonyPage /></Allowed>} />
          <Route path="settings/api-keys" element={<Allowed to="ManageApiKeys"><ApiKeysPage /></Allowed>} />
          <Route path="settings/webhooks" element={<Allowed to="ManageWebhooks"><WebhooksPage /></Allowed>} />
          <Route
            path="settings/webhooks/:id"
            element={<Allowed to="ManageWebhooks"><WithId render={(id) => <WebhookPage id={id} />} /></Allowed>}
          />
          {/* Where these screens lived before Settings existed; bookmarks keep working. */}
          <Route path="keys" element={<Navigate to="/settings/api-keys" replace />} />
          <Route path="members" element={<Navigate to="/settings/members" replace />} />
          <Route path="webhooks" element={<Navigate to="/settings/webhooks" replace />} />
          <Route path="webhooks/:id" element={<WithId render={(id) => <Navigate to={`/settings/webhooks/${id}`} replace />} />} />
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}

/**
 * After a reload in a new tab (or once this tab's access token has expired) the session comes back
 * from the stored refresh token; until then, a splash.
 */
function useRestoring(): boolean {
  const [restoring, setRestoring] = useState(() => !sessions.current() && sessions.hasStoredSession());
  useEffect(() => {
    if (restoring) {
      sessions
        .refresh()
        .catch(() => undefined)
        .finally(() => setRestoring(false));
    }
  }, [restoring]);
  return restoring;
}

function Splash() {
  return (
    <div className="splash" role="status">
      Loading…
    </div>
  );
}

/** Signed-in screens: the shell around them, or the way to sign in. */
function SignedIn() {
  const session = useSession();
  const restoring = useRestoring();
  const { pathname, search } = useLocation();
  if (restoring) return <Splash />;
  if (!session) {
    const next = pathname === "/" ? "" : `?next=${encodeURIComponent(pathname + search)}`;
    return <Navigate to={`/signin${next}`} replace />;
  }
  // A tenant switch starts every screen afresh.
  return <Layout key={session.tenant.id} />;
}

/** Sign-in and sign-up; once signed in, on to the page that asked for it (`?next=`). */
function SignedOut({ children }: { children: ReactNode }) {
  const session = useSession();
  const restoring = useRestoring();
  const [query] = useSearchParams();
  if (restoring) return <Splash />;
  if (session) return <Navigate to={safeNext(query.get("next")) ?? homePath(session.role)} replace />;
  return <>{children}</>;
}

function Home() {
  const session = useSignedIn();
  return <Navigate to={homePath(session.role)} replace />;
}

/** The screen, if the signed-in role may see it. */
function Allowed({ to, children }: { to: Permission; children: ReactNode }) {
  const session = useSignedIn();
  if (can(session.role, to)) return <>{children}</>;
  return (
    <>
      <PageHeader title="Not allowed" />
      <div className="empty">Your role ({roleLabel(session.role)}) does not give access to this page.</div>
    </>
  );
}

/** A detail screen, remounted for each id so nothing of the previous one lingers. */
function WithId({ render }: { render: (id: string) => ReactNode }) {
  const { id = "" } = useParams();
  return <Fragment key={id}>{render(id)}</Fragment>;
}

function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <div className="empty">No such page.</div>
    </>
  );
}

/** Only same-site paths are followed after sign-in. */
function safeNext(next: string | null): string | undefined {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : undefined;
}
