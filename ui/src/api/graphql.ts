// GraphQL over HTTP: one POST to /graphql (same origin). Documents are typed strings generated from
// schema.graphql (`npm run codegen`, see codegen.ts): the result and variables types travel with them.
// Every request sends `X-Voxedge-CSRF`: the server then keeps the refresh token in its HttpOnly session
// cookie (sent along by the browser) and accepts that cookie from this page, never from another site.

import type { TypedDocumentString } from "../gql/graphql";
import { ApiError } from "./errors";

export type { TypedDocumentString };

/** Runs one operation; resolves with `data`, rejects with the first error as an `ApiError`. */
export async function postGraphql<R, V>(
  document: TypedDocumentString<R, V>,
  variables: V | undefined,
  token?: string,
): Promise<R> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
    "x-voxedge-csrf": "1",
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
  });
  let body: { data?: R | null; errors?: unknown[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError("INTERNAL", `unexpected ${response.status} response from the server`);
  }
  if (body.errors?.length) throw ApiError.fromGraphql(body.errors);
  if (!response.ok || body.data == null) {
    throw new ApiError("INTERNAL", `unexpected ${response.status} response from the server`);
  }
  return body.data;
}
