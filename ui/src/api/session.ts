// The signed-in session. The rotating refresh token lives in an HttpOnly cookie the server sets (every
// request sends `X-Voxedge-CSRF`, which asks for that and passes the server's CSRF check): no script
// can read it, so an injected one cannot carry it off. localStorage only remembers *that* this browser
// is signed in, so another tab (or a reload after the access token expired) knows to refresh. Every
// refresh spends the cookie's token and the server sets its successor; tabs take a Web Lock around that
// so two never spend the same one (the server would treat that as theft and revoke the session). The
// short-lived access token is kept in this tab's sessionStorage until it expires, so reloading a page
// does not spend a refresh token each time (each refresh is a mutation, and every mutation is a row in
// the audit log).

import { graphql } from "../gql";
import type { AuthFieldsFragment } from "../gql/graphql";
import { ApiError } from "./errors";
import { postGraphql, type TypedDocumentString } from "./graphql";

/** Set while this browser holds a session cookie (the cookie itself is out of reach of scripts). */
const SIGNED_IN_KEY = "voxedge.signedIn";
const TENANT_NAMES_KEY = "voxedge.tenantNames";
const ACCESS_KEY = "voxedge.session";
// Portals before the session cookie kept the refresh token itself here: do not leave it lying around.
localStorage.removeItem("voxedge.refreshToken");

/** An access token this close to its expiry is not worth keeping across a reload. */
const EXPIRY_MARGIN_MS = 30_000;

export type Session = Omit<AuthFieldsFragment, "accessTokenExpiresAt">;

graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    accessTokenExpiresAt
    user { id email name }
    tenant { id name }
    role
  }
`);

const SIGN_UP = graphql(`mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ...AuthFields } }`);
const LOGIN = graphql(`mutation Login($input: LoginInput!) { login(input: $input) { ...AuthFields } }`);
const ACCEPT_INVITE = graphql(`
  mutation AcceptInvite($input: AcceptInviteInput!) { acceptInvite(input: $input) { ...AuthFields } }
`);
const SWITCH_TENANT = graphql(`
  mutation SwitchTenant($tenantId: ID!) { switchTenant(tenantId: $tenantId) { ...AuthFields } }
`);
const REFRESH = graphql(`mutation Refresh { refreshSession { ...AuthFields } }`);
const VERIFY_EMAIL = graphql(`mutation VerifyEmail($token: String!) { verifyEmail(token: $token) { id email } }`);
const REQUEST_RESET = graphql(`
  mutation RequestPasswordReset($email: String!) { requestPasswordReset(email: $email) { emailed } }
`);
const RESET_PASSWORD = graphql(`
  mutation ResetPassword($input: ResetPasswordInput!) { resetPassword(input: $input) { id email } }
`);
const LOGOUT = graphql(`mutation Logout { logout { sessionId } }`);

/** Codes after which the session cannot be used any more: the person must sign in again. */
const SESSION_OVER = new Set(["TOKEN_REVOKED", "INVALID_TOKEN", "REFRESH_TOKEN_REUSED", "UNAUTHENTICATED"]);

type Listener = () => void;

export class SessionStore {
  private session: Session | null = readStoredAccess();
  /** Why the last session ended, shown on the sign-in page. */
  private endedBecause: ApiError | null = null;
  private refreshing: Promise<Session> | null = null;
  private listeners = new Set<Listener>();

  current(): Session | null {
    return this.session;
  }

  endReason(): ApiError | null {
    return this.endedBecause;
  }

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  hasStoredSession(): boolean {
    return localStorage.getItem(SIGNED_IN_KEY) !== null;
  }

  async signUp(input: { email: string; password: string; name?: string; tenantName: string }): Promise<void> {
    const data = await postGraphql(SIGN_UP, { input });
    this.start(data.signUp);
  }

  async login(input: { email: string; password: string; tenantId?: string }): Promise<void> {
    const data = await postGraphql(LOGIN, { input });
    this.start(data.login);
  }

  /**
   * Joins a tenant by invitation: signed in (as the invited email) or with a password. Signed in, the
   * new session is made from the current one on the server, and signing out ends both.
   */
  async acceptInvite(input: { token: string; password?: string; name?: string }): Promise<void> {
    const data = await this.requestMaybeSignedIn(ACCEPT_INVITE, { input });
    this.start(data.acceptInvite);
  }

  /** Follows an email verification link (signed in or not). Resolves with the verified address. */
  async verifyEmail(token: string): Promise<string> {
    const data = await this.requestMaybeSignedIn(VERIFY_EMAIL, { token });
    return data.verifyEmail.email;
  }

  /** Asks for a reset link; resolves with whether this server emails them. */
  async requestPasswordReset(email: string): Promise<boolean> {
    const data = await postGraphql(REQUEST_RESET, { email });
    return data.requestPasswordReset.emailed;
  }

  /** Follows a reset link. The server signs the account out everywhere, so this browser is signed out too. */
  async resetPassword(input: { token: string; password: string }): Promise<void> {
    await postGraphql(RESET_PASSWORD, { input });
    this.clear(null);
  }

  /**
   * Tokens for another tenant of the same user. The server makes the new session from the current one
   * (signing out ends both), so the old one is not signed out here: that would end the new one too.
   */
  async switchTenant(tenantId: string): Promise<void> {
    const data = await this.request(SWITCH_TENANT, { tenantId });
    this.start(data.switchTenant);
  }

  async logout(): Promise<void> {
    const signedIn = this.hasStoredSession();
    this.clear(null);
    if (signedIn) {
      await postGraphql(LOGOUT, {}).catch(() => undefined);
    }
  }

  /** Runs an operation as the signed-in user, refreshing once if the access token expired. */
  async request<R, V>(document: TypedDocumentString<R, V>, variables?: V): Promise<R> {
    const session = this.session ?? (await this.refresh());
    try {
      return await postGraphql(document, variables, session.accessToken);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.code === "TOKEN_EXPIRED") {
        const renewed = await this.refresh();
        return postGraphql(document, variables, renewed.accessToken);
      }
      if (SESSION_OVER.has(err.code)) this.clear(err);
      throw err;
    }
  }

  /** A token for a request made outside GraphQL (CSV export, the subscription socket). */
  async accessToken(): Promise<string> {
    if (this.refreshing) return (await this.refreshing).accessToken;
    return (this.session ?? (await this.refresh())).accessToken;
  }

  /**
   * Exchanges the cookie's refresh token for new tokens. Concurrent callers share one exchange; tabs
   * take turns, so a tab that lost the race sends the successor cookie another tab's refresh set.
   */
  refresh(): Promise<Session> {
    this.refreshing ??= this.withLock(async () => {
      if (!this.hasStoredSession()) throw new ApiError("UNAUTHENTICATED", "not signed in");
      try {
        const data = await postGraphql(REFRESH, {});
        return this.start(data.refreshSession);
      } catch (err) {
        const error = ApiError.from(err);
        // A network failure keeps the stored token for the next try; anything else ends the session.
        if (error.code !== "NETWORK") this.clear(error);
        throw error;
      }
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** The workspace was renamed: show the new name without waiting for new tokens. */
  renamedTenant(name: string): void {
    if (!this.session) return;
    this.session = { ...this.session, tenant: { ...this.session.tenant, name } };
    writeTenantName(this.session.tenant.id, name);
    try {
      const stored = JSON.parse(sessionStorage.getItem(ACCESS_KEY) ?? "null");
      if (stored) sessionStorage.setItem(ACCESS_KEY, JSON.stringify({ ...stored, session: this.session }));
    } catch {
      // A reload shows the old name until the next refresh; nothing else depends on it.
    }
    this.emit();
  }

  /** Display names of tenants seen in this browser (memberships only carry ids). */
  tenantName(id: string): string | undefined {
    return readTenantNames()[id];
  }

  private async requestMaybeSignedIn<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R> {
    return this.session ? this.request(document, variables) : postGraphql(document, variables);
  }

  private start(payload: AuthFieldsFragment): Session {
    const { accessTokenExpiresAt, ...session } = payload;
    localStorage.setItem(SIGNED_IN_KEY, "1");
    sessionStorage.setItem(ACCESS_KEY, JSON.stringify({ session, expiresAt: accessTokenExpiresAt }));
    writeTenantName(session.tenant.id, session.tenant.name);
    this.session = session;
    this.endedBecause = null;
    this.emit();
    return session;
  }

  private clear(reason: ApiError | null): void {
    localStorage.removeItem(SIGNED_IN_KEY);
    sessionStorage.removeItem(ACCESS_KEY);
    this.session = null;
    this.endedBecause = reason;
    this.emit();
  }

  private withLock<T>(work: () => Promise<T>): Promise<T> {
    // Web Locks exist in secure contexts (https, localhost); elsewhere one tab is the common case.
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    return locks ? (locks.request("voxedge-refresh", work) as Promise<T>) : work();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

/** This tab's access token from before a reload, while it is still good for a while. */
function readStoredAccess(): Session | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(ACCESS_KEY) ?? "null") as { session: Session; expiresAt: string } | null;
    if (!stored || localStorage.getItem(SIGNED_IN_KEY) === null) return null;
    return new Date(stored.expiresAt).getTime() - Date.now() > EXPIRY_MARGIN_MS ? stored.session : null;
  } catch {
    return null;
  }
}

function readTenantNames(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(TENANT_NAMES_KEY) ?? "{}");
  } catch {
    return {};
  }
}

function writeTenantName(id: string, name: string): void {
  localStorage.setItem(TENANT_NAMES_KEY, JSON.stringify({ ...readTenantNames(), [id]: name }));
}

export const sessions = new SessionStore();
