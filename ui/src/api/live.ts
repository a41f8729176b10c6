// Live data: GraphQL subscriptions over one WebSocket (graphql-transport-ws at /graphql). Browsers
// cannot set headers on a WebSocket, so the access token goes in the `connection_init` payload. The
// socket is opened lazily by the first subscription and closed shortly after the last one ends.

import { createClient, type Client } from "graphql-ws";
import { useEffect, useRef, useState } from "react";
import { ApiError } from "./errors";
import type { TypedDocumentString } from "./graphql";
import { sessions } from "./session";

let client: Client | null = null;

// The socket names its tenant in the URL: with several regions, the server routes the upgrade to the tenant's
// home region before it happens (the token only arrives afterwards, in `connection_init`).
function liveUrl(): string {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const tenant = sessions.current()?.tenant.id;
  return tenant ? `${url}?tenant=${encodeURIComponent(tenant)}` : url;
}

function liveClient(): Client {
  client ??= createClient({
    url: liveUrl,
    lazy: true,
    lazyCloseTimeout: 3_000,
    keepAlive: 20_000,
    retryAttempts: 8,
    shouldRetry: () => true,
    connectionParams: async () => ({ Authorization: `Bearer ${await sessions.accessToken()}` }),
    on: {
      closed: (event) => {
        const close = event as CloseEvent;
        // 4403 with TOKEN_EXPIRED: the token expired (at connect, or while open); it is renewed before
        // graphql-ws reconnects. 4401: the session was revoked or the membership ended — a refresh
        // fails the same way and ends the session here, which shows the sign-in page.
        if (close?.code === 4403 && close.reason.includes("TOKEN_EXPIRED")) {
          sessions.refresh().catch(() => undefined);
        } else if (close?.code === 4401) {
          sessions.refresh().catch(() => undefined);
        }
      },
    },
  });
  return client;
}

// A new session (sign-in, tenant switch, sign-out) must not reuse a socket authenticated as the old one.
let lastTokenOwner: string | null = null;
sessions.subscribe(() => {
  const session = sessions.current();
  const owner = session ? `${session.user.id}/${session.tenant.id}` : null;
  if (owner !== lastTokenOwner) {
    lastTokenOwner = owner;
    client?.dispose();
    client = null;
  }
});

export type LiveStatus = "connecting" | "live" | "ended" | "error";

/**
 * Subscribes while the component is mounted (and `enabled`), calling `onData` for every result.
 * Returns the subscription's status and error for display.
 */
export function useSubscription<R, V>(
  document: TypedDocumentString<R, V>,
  variables: V,
  onData: (data: R) => void,
  enabled = true,
): { status: LiveStatus; error?: ApiError } {
  const [state, setState] = useState<{ status: LiveStatus; error?: ApiError }>({ status: "connecting" });
  const handler = useRef(onData);
  handler.current = onData;
  const key = JSON.stringify(variables);

  useEffect(() => {
    if (!enabled) return;
    setState({ status: "connecting" });
    const unsubscribe = liveClient().subscribe<R>(
      { query: document.toString(), variables: JSON.parse(key) },
      {
        next: (result) => {
          if (result.errors?.length) {
            setState({ status: "error", error: ApiError.fromGraphql(result.errors) });
          } else if (result.data) {
            setState({ status: "live" });
            handler.current(result.data);
          }
        },
        error: (err) => setState({ status: "error", error: toApiError(err) }),
        complete: () => setState((s) => (s.status === "error" ? s : { status: "ended" })),
      },
    );
    return unsubscribe;
  }, [document, key, enabled]);

  return state;
}

function toApiError(err: unknown): ApiError {
  if (Array.isArray(err)) return ApiError.fromGraphql(err);
  const close = err as Partial<CloseEvent>;
  if (close && typeof close.code === "number") {
    // Close reasons from the server read `Forbidden: CODE: message` or `RATE_LIMITED: ...`.
    const code = /([A-Z_]{4,})/.exec(close.reason ?? "")?.[1] ?? "NETWORK";
    return new ApiError(code, close.reason || `live connection closed (${close.code})`);
  }
  return ApiError.from(err);
}
