import { graphql } from "../../gql";
import type { CallDetailFieldsFragment, CallSummaryFieldsFragment, SegmentFieldsFragment } from "../../gql/graphql";

export type CallSummary = CallSummaryFieldsFragment;
export type CallDetail = CallDetailFieldsFragment;
export type Segment = SegmentFieldsFragment;
export type CallEvent = CallDetailFieldsFragment["events"]["nodes"][number];

graphql(`
  fragment CallSummaryFields on Call {
    id
    status
    direction
    transport
    from
    to
    createdAt
    answeredAt
    endedAt
    durationMs
    endedReason
    agent { id name }
  }
`);

graphql(`
  fragment SegmentFields on TranscriptSegment {
    seq
    speaker
    text
    startMs
    endMs
    confidence
    isFinal
  }
`);

// The timeline is short (state changes, speech, tools); 100 events covers a long call.
graphql(`
  fragment CallDetailFields on Call {
    ...CallSummaryFields
    metadata
    agentVersion { version }
    events(first: 100) { nodes { seq type data at } }
  }
`);

export const CALLS = graphql(`
  query Calls($first: Int!, $after: String, $filter: CallFilterInput) {
    calls(first: $first, after: $after, filter: $filter) {
      nodes { ...CallSummaryFields }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const AGENT_NAMES = graphql(`query AgentNames { agents(first: 100, includeArchived: true) { nodes { id name } } }`);

export const ACTIVE_CALLS = graphql(`subscription ActiveCalls { activeCalls { ...CallSummaryFields } }`);

export const CALL = graphql(`
  query Call($id: ID!) {
    call(id: $id) { ...CallDetailFields transcript(first: 100) { nodes { ...SegmentFields } } }
  }
`);

export const CALL_UPDATED = graphql(`subscription CallUpdated($id: ID!) { callUpdated(callId: $id) { ...CallDetailFields } }`);

export const TRANSCRIPT_SEGMENTS = graphql(`
  subscription TranscriptSegments($id: ID!, $afterSeq: Int) {
    transcriptSegments(callId: $id, afterSeq: $afterSeq) { ...SegmentFields }
  }
`);
