// The calls filter lives in the page's query string, in the same words as the CSV export's parameters
// (`status=completed,failed&agentId=...&direction=inbound&createdAfter=...&text=...`), so a filtered
// list can be bookmarked and its export link is the same query on /export/calls.csv.

import type { CallFilterInput, CallStatus, Direction } from "../../gql/graphql";

export type { CallStatus, Direction };

export const CALL_STATUSES: readonly CallStatus[] = [
  "QUEUED",
  "RINGING",
  "IN_PROGRESS",
  "COMPLETED",
  "FAILED",
  "NO_ANSWER",
  "BUSY",
  "CANCELED",
];

export interface CallFilter {
  statuses: CallStatus[];
  agentId: string;
  direction: Direction | "";
  /** RFC 3339, or empty. */
  createdAfter: string;
  createdBefore: string;
  text: string;
}

export const NO_FILTER: CallFilter = {
  statuses: [],
  agentId: "",
  direction: "",
  createdAfter: "",
  createdBefore: "",
  text: "",
};

export function filterFromQuery(query: URLSearchParams): CallFilter {
  const statuses = (query.get("status") ?? "")
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter((s): s is CallStatus => (CALL_STATUSES as readonly string[]).includes(s));
  const direction = (query.get("direction") ?? "").toUpperCase();
  return {
    statuses,
    agentId: query.get("agentId") ?? "",
    direction: direction === "INBOUND" || direction === "OUTBOUND" ? direction : "",
    createdAfter: query.get("createdAfter") ?? "",
    createdBefore: query.get("createdBefore") ?? "",
    text: query.get("text") ?? "",
  };
}

/** The query string (without `?`) shared by the page URL and the CSV export. */
export function filterToQuery(filter: CallFilter): string {
  const params = new URLSearchParams();
  if (filter.statuses.length) params.set("status", filter.statuses.map((s) => s.toLowerCase()).join(","));
  if (filter.agentId) params.set("agentId", filter.agentId);
  if (filter.direction) params.set("direction", filter.direction.toLowerCase());
  if (filter.createdAfter) params.set("createdAfter", filter.createdAfter);
  if (filter.createdBefore) params.set("createdBefore", filter.createdBefore);
  if (filter.text.trim()) params.set("text", filter.text.trim());
  return params.toString();
}

/** The GraphQL `CallFilterInput`. */
export function filterToInput(filter: CallFilter): CallFilterInput {
  return {
    status: filter.statuses,
    agentId: filter.agentId || null,
    direction: filter.direction || null,
    createdAfter: filter.createdAfter || null,
    createdBefore: filter.createdBefore || null,
    text: filter.text.trim() || null,
  };
}
