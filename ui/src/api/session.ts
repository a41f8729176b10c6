// The signed-in session. The access token lives only in memory; the rotating refresh token in
// localStorage, so a reload (or another tab) can start again from it. Every refresh spends the stored
// refresh token and stores its successor; tabs take a Web Lock around that so two never spend the same
// one (the server would treat that as theft and revoke the session).

import { ApiError } from "./errors";
import { postGraphql, type Variables } from "./graphql";
import type { Role } from "./roles";

const REFRESH_KEY = "voxedge.refreshToken";
const TENANT_NAMES_KEY = "voxedge.tenantNames";

export interface Session {
  accessToken: string;
  user: { id: string; email: string; name: string | null };
  tenant: { id: string; name: string };
  role: Role;
}

interface AuthPayload extends Session {
  refreshToken: string;
}

const AUTH_FIELDS = "accessToken refreshToken user { id email name } tenant { id name } role";

/** Codes after which the session cannot be used any more: the person must sign in again. */
const SESSION_OVER = new Set(["TOKEN_REVOKED", "INVALID_TOKEN", "REFRESH_TOKEN_REUSED", "UNAUTHENTICATED"]);

type Listener = () => void;

export class SessionStore {
  private session: Session | null = null;
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
    const data = await postGraphql<{ signUp: AuthPayload }>(
      `mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`,
      { input },
    );
    this.start(data.signUp);
  }

  async login(input: { email: string; password: string; tenantId?: string }): Promise<void> {
    const data = await postGraphql<{ login: AuthPayload }>(
      `mutation Login($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`,
      { input },
    );
    this.start(data.login);
  }

  /** Joins a tenant by invitation: signed in (as the invited email) or with a password. */
  async acceptInvite(input: { token: string; password?: string; name?: string }): Promise<void> {
    const data = await this.requestMaybeSignedIn<{ acceptInvite: AuthPayload }>(
      `mutation AcceptInvite($input: AcceptInviteInput!) { acceptInvite(input: $input) { ${AUTH_FIELDS} } }`,
      { input },
    );
    this.endSessionQuietly();
    this.start(data.acceptInvite);
  }

  /** Tokens for another tenant of the same user; the old session is signed out. */
  async switchTenant(tenantId: string): Promise<void> {
    const data = await this.request<{ switchTenant: AuthPayload }>(
      `mutation SwitchTenant($tenantId: ID!) { switchTenant(tenantId: $tenantId) { ${AUTH_FIELDS} } }`,
      { tenantId },
    );
    this.endSessionQuietly();
    this.start(data.switchTenant);
  }

  async logout(): Promise<void> {
    const refreshToken = localStorage.getItem(REFRESH_KEY);
    this.clear(null);
    if (refreshToken) {
      await postGraphql(`mutation Logout($t: String!) { logout(refreshToken: $t) { sessionId } }`, {
        t: refreshToken,
      }).catch(() => undefined);
    }
  }

  /** Runs an operation as the signed-in user, refreshing once if the access token expired. */
  async request<T>(query: string, variables: Variables = {}): Promise<T> {
    const session = this.session ?? (await this.refresh());
    try {
      return await postGraphql<T>(query, variables, session.accessToken);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.code === "TOKEN_EXPIRED") {
        const renewed = await this.refresh();
        return postGraphql<T>(query, variables, renewed.accessToken);
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
        const data = await postGraphql<{ refreshSession: AuthPayload }>(
          `mutation Refresh($t: String!) { refreshSession(refreshToken: $t) { ${AUTH_FIELDS} } }`,
          { t: refreshToken },
        );
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

  /** Display names of tenants seen in this browser (memberships only carry ids). */
  tenantName(id: string): string | undefined {
    return readTenantNames()[id];
  }

  private async requestMaybeSignedIn<T>(query: string, variables: Variables): Promise<T> {
    return this.session ? this.request<T>(query, variables) : postGraphql<T>(query, variables);
  }

  private start(payload: AuthPayload): Session {
    const { refreshToken, ...session } = payload;
    localStorage.setItem(REFRESH_KEY, refreshToken);
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
      postGraphql(`mutation Logout($t: String!) { logout(refreshToken: $t) { sessionId } }`, {
        t: refreshToken,
      }).catch(() => undefined);
    }
  }

  private clear(reason: ApiError | null): void {
    localStorage.removeItem(REFRESH_KEY);
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
