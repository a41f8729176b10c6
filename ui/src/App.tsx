import { useEffect, useState, type ReactNode } from "react";
import { useSession } from "./api/hooks";
import { can, roleLabel, type Permission } from "./api/roles";
import { sessions } from "./api/session";
import { homePath, Layout } from "./components/Layout";
import { AgentPage } from "./pages/agents/AgentPage";
import { AgentsPage } from "./pages/agents/AgentsPage";
import { NewAgentPage } from "./pages/agents/NewAgentPage";
import { AuditPage } from "./pages/audit/AuditPage";
import { AcceptInvitePage } from "./pages/auth/AcceptInvitePage";
import { SignInPage } from "./pages/auth/SignInPage";
import { SignUpPage } from "./pages/auth/SignUpPage";
import { CallPage } from "./pages/calls/CallPage";
import { CallsPage } from "./pages/calls/CallsPage";
import { ApiKeysPage } from "./pages/keys/ApiKeysPage";
import { MembersPage } from "./pages/members/MembersPage";
import { TalkPage } from "./pages/talk/TalkPage";
import { WebhookPage } from "./pages/webhooks/WebhookPage";
import { WebhooksPage } from "./pages/webhooks/WebhooksPage";
import { matchPath, navigate, useLocation } from "./router";

interface Route {
  pattern: string;
  permission: Permission;
  render: (params: Record<string, string>) => ReactNode;
}

/** Signed-in screens, first match wins (so `/agents/new` before `/agents/:id`). */
const ROUTES: Route[] = [
  { pattern: "/agents", permission: "ReadAgents", render: () => <AgentsPage /> },
  { pattern: "/agents/new", permission: "EditAgents", render: () => <NewAgentPage /> },
  { pattern: "/agents/:id", permission: "ReadAgents", render: (p) => <AgentPage key={p.id} id={p.id} /> },
  { pattern: "/calls", permission: "ReadCalls", render: () => <CallsPage /> },
  { pattern: "/calls/:id", permission: "ReadCalls", render: (p) => <CallPage key={p.id} id={p.id} /> },
  { pattern: "/talk", permission: "CreateSessionTokens", render: () => <TalkPage /> },
  { pattern: "/keys", permission: "ManageApiKeys", render: () => <ApiKeysPage /> },
  { pattern: "/members", permission: "ReadMembers", render: () => <MembersPage /> },
  { pattern: "/webhooks", permission: "ManageWebhooks", render: () => <WebhooksPage /> },
  { pattern: "/webhooks/:id", permission: "ManageWebhooks", render: (p) => <WebhookPage key={p.id} id={p.id} /> },
  { pattern: "/audit", permission: "ReadAuditLog", render: () => <AuditPage /> },
];

const SIGNED_OUT_PATHS = ["/signin", "/signup"];

export function App() {
  const session = useSession();
  const { path, query } = useLocation();
  // After a reload the access token is gone: the stored refresh token brings the session back.
  const [restoring, setRestoring] = useState(() => !sessions.current() && sessions.hasStoredSession());
  useEffect(() => {
    if (restoring) {
      sessions
        .refresh()
        .catch(() => undefined)
        .finally(() => setRestoring(false));
    }
  }, [restoring]);

  if (restoring) return <div className="splash">Loading…</div>;
  if (path === "/accept-invite") return <AcceptInvitePage />;
  if (!session) {
    if (path === "/signup") return <SignUpPage />;
    if (path === "/signin") return <SignInPage />;
    const next = path === "/" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
    return <Redirect to={`/signin${next}`} />;
  }
  if (path === "/" || SIGNED_OUT_PATHS.includes(path)) {
    return <Redirect to={safeNext(query.get("next")) ?? homePath(session.role)} />;
  }
  return (
    <Layout key={session.tenant.id}>
      <Screen path={path} />
    </Layout>
  );
}

function Screen({ path }: { path: string }) {
  const session = useSession();
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, path);
    if (!params) continue;
    if (!can(session?.role, route.permission)) {
      return (
        <div className="empty">
          Your role ({session ? roleLabel(session.role) : "none"}) does not give access to this page.
        </div>
      );
    }
    return <>{route.render(params)}</>;
  }
  return <div className="empty">No such page.</div>;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

/** Only same-site paths are followed after sign-in. */
function safeNext(next: string | null): string | undefined {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : undefined;
}
