// GraphQL over HTTP: one POST to /graphql (same origin). No client library: the portal needs nothing
// a fetch does not do.

import { ApiError } from "./errors";

export type Variables = Record<string, unknown>;

/** Runs one operation; resolves with `data`, rejects with the first error as an `ApiError`. */
export async function postGraphql<T>(query: string, variables: Variables = {}, token?: string): Promise<T> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  let body: { data?: T | null; errors?: unknown[] };
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
