import type { CallStatus, Direction } from "./callFilter";

export interface CallSummary {
  id: string;
  status: CallStatus;
  direction: Direction;
  transport: "PHONE" | "WEB";
  from: string | null;
  to: string | null;
  createdAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  endedReason: string | null;
  agent: { id: string; name: string };
}

export interface CallEvent {
  seq: number;
  type: string;
  data: unknown;
  at: string;
}

export interface Segment {
  seq: number;
  speaker: "CALLER" | "AGENT";
  text: string;
  startMs: number;
  endMs: number;
  confidence: number | null;
  isFinal: boolean;
}

export interface CallDetail extends CallSummary {
  metadata: unknown;
  agentVersion: { version: number };
  events: { nodes: CallEvent[] };
}

const SUMMARY = `id status direction transport from to createdAt answeredAt endedAt durationMs endedReason agent { id name }`;
const SEGMENT = `seq speaker text startMs endMs confidence isFinal`;
/** The timeline is short (state changes, speech, tools); 100 events covers a long call. */
const DETAIL = `${SUMMARY} metadata agentVersion { version } events(first: 100) { nodes { seq type data at } }`;

export const CALLS = `query Calls($first: Int!, $after: String, $filter: CallFilterInput) {
  calls(first: $first, after: $after, filter: $filter) {
    nodes { ${SUMMARY} }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const AGENT_NAMES = `query AgentNames { agents(first: 100, includeArchived: true) { nodes { id name } } }`;

export const ACTIVE_CALLS = `subscription ActiveCalls { activeCalls { ${SUMMARY} } }`;

export const CALL = `query Call($id: ID!) {
  call(id: $id) { ${DETAIL} transcript(first: 100) { nodes { ${SEGMENT} } } }
}`;

export const CALL_UPDATED = `subscription CallUpdated($id: ID!) { callUpdated(callId: $id) { ${DETAIL} } }`;

export const TRANSCRIPT_SEGMENTS = `subscription TranscriptSegments($id: ID!, $afterSeq: Int) {
  transcriptSegments(callId: $id, afterSeq: $afterSeq) { ${SEGMENT} }
}`;
