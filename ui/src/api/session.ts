// The signed-in session. The rotating refresh token lives in localStorage, so another tab (or a reload
// after the access token expired) can start again from it. Every refresh spends the stored refresh
// token and stores its successor; tabs take a Web Lock around that so two never spend the same one (the
// server would treat that as theft and revoke the session). The short-lived access token is kept in this
// tab's sessionStorage until it expires, so reloading a page does not spend a refresh token each time
// (each refresh is a mutation, and every mutation is a row in the audit log).

import { graphql } from "../gql";
import type { AuthFieldsFragment } from "../gql/graphql";
import { ApiError } from "./errors";
import { postGraphql, type TypedDocumentString } from "./graphql";

const REFRESH_KEY = "voxedge.refreshToken";
const TENANT_NAMES_KEY = "voxedge.tenantNames";
const ACCESS_KEY = "voxedge.session";
/** An access token this close to its expiry is not worth keeping across a reload. */
const EXPIRY_MARGIN_MS = 30_000;

export type Session = Omit<AuthFieldsFragment, "refreshToken" | "accessTokenExpiresAt">;

graphql(`
  fragment AuthFields on AuthPayload {
    accessToken
    accessTokenExpiresAt
    refreshToken
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
const REFRESH = graphql(`mutation Refresh($t: String!) { refreshSession(refreshToken: $t) { ...AuthFields } }`);
const VERIFY_EMAIL = graphql(`mutation VerifyEmail($token: String!) { verifyEmail(token: $token) { id email } }`);
const REQUEST_RESET = graphql(`
  mutation RequestPasswordReset($email: String!) { requestPasswordReset(email: $email) { emailed } }
`);
const RESET_PASSWORD = graphql(`
  mutation ResetPassword($input: ResetPasswordInput!) { resetPassword(input: $input) { id email } }
`);
const LOGOUT = graphql(`mutation Logout($t: String!) { logout(refreshToken: $t) { sessionId } }`);

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
    return localStorage.getItem(REFRESH_KEY) !== null;
  }

  async signUp(input: { email: string; password: string; name?: string; tenantName: string }): Promise<void> {
    const data = await postGraphql(SIGN_UP, { input });
    this.start(data.signUp);
  }

  async login(input: { email: string; password: string; tenantId?: string }): Promise<void> {
    const data = await postGraphql(LOGIN, { input });
    this.start(data.login);
  }

  /** Joins a tenant by invitation: signed in (as the invited email) or with a password. */
  async acceptInvite(input: { token: string; password?: string; name?: string }): Promise<void> {
    const data = await this.requestMaybeSignedIn(ACCEPT_INVITE, { input });
    this.endSessionQuietly();
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

  /** Tokens for another tenant of the same user; the old session is signed out. */
  async switchTenant(tenantId: string): Promise<void> {
    const data = await this.request(SWITCH_TENANT, { tenantId });
    this.endSessionQuietly();
    this.start(data.switchTenant);
  }

  async logout(): Promise<void> {
    const refreshToken = localStorage.getItem(REFRESH_KEY);
    this.clear(null);
    if (refreshToken) {
      await postGraphql(LOGOUT, { t: refreshToken }).catch(() => undefined);
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
   * Exchanges the stored refresh token for new tokens. Concurrent callers share one exchange; the token
   * is read inside the lock, so a tab that lost the race uses the successor another tab stored.
   */
  refresh(): Promise<Session> {
    this.refreshing ??= this.withLock(async () => {
      const refreshToken = localStorage.getItem(REFRESH_KEY);
      if (!refreshToken) throw new ApiError("UNAUTHENTICATED", "not signed in");
      try {
        const data = await postGraphql(REFRESH, { t: refreshToken });
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
    const { refreshToken, accessTokenExpiresAt, ...session } = payload;
    localStorage.setItem(REFRESH_KEY, refreshToken);
    sessionStorage.setItem(ACCESS_KEY, JSON.stringify({ session, expiresAt: accessTokenExpiresAt }));
    writeTenantName(session.tenant.id, session.tenant.name);
    this.session = session;
    this.endedBecause = null;
    this.emit();
    return session;
  }

  /** Signs the current session out on the server without waiting (used when replacing it). */
  private endSessionQuietly(): void {
    const refreshToken = localStorage.getItem(REFRESH_KEY);
    if (this.session && refreshToken) {
      postGraphql(LOGOUT, { t: refreshToken }).catch(() => undefined);
    }
  }

  private clear(reason: ApiError | null): void {
    localStorage.removeItem(REFRESH_KEY);
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
    if (!stored || localStorage.getItem(REFRESH_KEY) === null) return null;
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
