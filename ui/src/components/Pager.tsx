import { useCallback, useState } from "react";
import type { CallsQuery } from "../gql/graphql";

/** What every list asks of its connection's `pageInfo` (the calls list's, as generated). */
export type PageInfo = CallsQuery["calls"]["pageInfo"];

/**
 * Relay forward pagination with a way back: the `after` cursor of every page visited is kept, so
 * "Previous" returns to exactly the page seen before (keyset cursors stay valid as rows arrive).
 */
export function usePager() {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const after = stack[stack.length - 1];
  const next = useCallback((cursor: string | null) => setStack((s) => [...s, cursor]), []);
  const previous = useCallback(() => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)), []);
  const reset = useCallback(() => setStack([null]), []);
  return { after, page: stack.length, next, previous, reset };
}

export function Pager({
  pager,
  pageInfo,
}: {
  pager: ReturnType<typeof usePager>;
  pageInfo?: PageInfo;
}) {
  if (pager.page === 1 && !pageInfo?.hasNextPage) return null;
  return (
    <div className="pager">
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        ← Previous
      </button>
      <span className="muted">Page {pager.page}</span>
      <button
        type="button"
        disabled={!pageInfo?.hasNextPage}
        onClick={() => pageInfo && pager.next(pageInfo.endCursor)}
      >
        Next →
      </button>
    </div>
  );
}
