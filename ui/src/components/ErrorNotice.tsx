import { describeError, type ApiError } from "../api/errors";

/** An API failure, explained by its code, with the code itself for support and search. */
export function ErrorNotice({ error }: { error?: ApiError | null }) {
  if (!error) return null;
  return (
    <div className="notice notice-error" role="alert" data-code={error.code}>
      {describeError(error)} <code className="muted">{error.code}</code>
    </div>
  );
}
