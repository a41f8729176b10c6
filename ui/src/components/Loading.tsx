import type { ApiError } from "../api/errors";
import { ErrorNotice } from "./ErrorNotice";

/** Grey bars where content is about to appear, so the page does not jump when it does. */
export function Skeleton({ rows = 4, label = "Loading" }: { rows?: number; label?: string }) {
  return (
    <div className="skeleton" role="status" aria-live="polite" aria-busy="true">
      <span className="visually-hidden">{label}…</span>
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} className="skeleton-bar" style={{ width: `${92 - ((i * 17) % 35)}%` }} />
      ))}
    </div>
  );
}

/** A failed load, explained, with a way to try again. */
export function LoadError({ error, onRetry }: { error: ApiError; onRetry: () => void }) {
  return (
    <div className="load-error">
      <ErrorNotice error={error} />
      <button type="button" onClick={onRetry}>
        Retry
      </button>
    </div>
  );
}

/**
 * The usual shape of a loading query: a skeleton the first time, the error with "Retry" when it
 * failed, the content once there is data (kept on screen while a reload runs).
 */
export function Loaded<T>({
  state,
  rows,
  children,
}: {
  state: { data?: T; error?: ApiError; reload: () => void };
  rows?: number;
  children: (data: T) => React.ReactNode;
}) {
  if (state.error) return <LoadError error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Skeleton rows={rows} />;
  return <>{children(state.data)}</>;
}
