// Errors as the API reports them: a stable `extensions.code`, a message, and for INVALID_INPUT the
// offending fields (`extensions.fields`). Everything the portal shows about a failure comes from here.

export interface FieldError {
  /** Path of the input field, e.g. `input.config.llm.temperature`. */
  field: string;
  code: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: string;
  readonly fields: FieldError[];
  readonly retryAfter?: number;

  constructor(code: string, message: string, fields: FieldError[] = [], retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }

  /** The first error of a GraphQL `errors` array (or an HTTP endpoint's, which has the same shape). */
  static fromGraphql(errors: unknown): ApiError {
    const first = (Array.isArray(errors) ? errors[0] : undefined) as
      | { message?: string; extensions?: { code?: string; fields?: FieldError[]; retryAfter?: number } }
      | undefined;
    return new ApiError(
      first?.extensions?.code ?? "INTERNAL",
      first?.message ?? "unexpected response",
      first?.extensions?.fields ?? [],
      first?.extensions?.retryAfter,
    );
  }

  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (err instanceof TypeError) return new ApiError("NETWORK", err.message);
    return new ApiError("INTERNAL", err instanceof Error ? err.message : String(err));
  }
}

/** What each code means to a person using the portal. */
const EXPLANATIONS: Record<string, string> = {
  NETWORK: "The server could not be reached. Check your connection and try again.",
  INVALID_INPUT: "Some fields need attention.",
  UNAUTHENTICATED: "Please sign in.",
  INVALID_CREDENTIALS: "Wrong email or password.",
  LINK_EXPIRED: "This link has expired. Ask for a new one.",
  LINK_ALREADY_USED: "This link was already used; each link works once. Ask for a new one if you need it.",
  EMAIL_NOT_VERIFIED: "The time this account works without a verified email address is over.",
  TOKEN_EXPIRED: "Your session expired. Please sign in again.",
  TOKEN_REVOKED: "Your session was ended. Please sign in again.",
  INVALID_TOKEN: "Your session is not valid. Please sign in again.",
  REFRESH_TOKEN_REUSED: "Your session was revoked for safety (it was used from two places). Please sign in again.",
  INVALID_API_KEY: "The API key is not valid.",
  API_KEY_REVOKED: "The API key was revoked.",
  API_KEY_EXPIRED: "The API key has expired.",
  FORBIDDEN: "Your role does not allow this.",
  NOT_FOUND: "Not found — it may have been deleted, or it belongs to another tenant.",
  CONFLICT: "Someone else changed this in the meantime. Reload and try again.",
  INVALID_STATE_TRANSITION: "The call cannot move to that state from where it is.",
  RATE_LIMITED: "Too many requests.",
  CONCURRENT_CALL_LIMIT: "Your plan's limit of calls at once is reached. Try again when a call ends, or change plan.",
  MONTHLY_MINUTES_EXHAUSTED: "Your plan's call minutes for this month are used up. Change plan to call again this month.",
  TENANT_SUSPENDED: "This workspace is suspended for an unpaid invoice: no new calls until it is paid.",
  PLAN_NOT_AVAILABLE: "That plan is arranged with us, not chosen here. Contact sales.",
  BILLING_NOT_CONFIGURED: "Online payments are not set up on this server.",
  PAYMENT_PROVIDER_ERROR: "The payment provider did not answer as expected. Try again in a moment.",
  TENANT_UNAVAILABLE: "This workspace's data is temporarily unavailable.",
  SERVICE_UNAVAILABLE: "The server is busy or restarting. Try again in a moment.",
  INTERNAL: "Something went wrong on the server.",
};

/** One line for a person: what happened (by code) and the server's detail. */
export function describeError(err: ApiError): string {
  const explanation = EXPLANATIONS[err.code];
  const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : "";
  if (!explanation) return `${err.message} (${err.code})`;
  if (err.code === "INVALID_INPUT" || err.code === "NETWORK" || err.code === "INTERNAL") {
    return `${explanation}${wait}`;
  }
  return `${explanation}${wait} ${capitalise(err.message)}.`.replace(/\.\.$/, ".");
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Field errors keyed by path without the argument prefix: `config.llm.temperature`, `name`. */
export type FieldErrors = Record<string, string>;

export function fieldErrors(err: ApiError | undefined, prefix = "input."): FieldErrors {
  const out: FieldErrors = {};
  for (const f of err?.fields ?? []) {
    const key = f.field.startsWith(prefix) ? f.field.slice(prefix.length) : f.field;
    out[key] ??= f.message;
  }
  return out;
}

/** The error for `key` or anything inside it (`tools` covers `tools[1].name`). */
export function errorAt(errors: FieldErrors, key: string): string | undefined {
  if (errors[key]) return errors[key];
  const inside = Object.keys(errors).find((k) => k.startsWith(`${key}.`) || k.startsWith(`${key}[`));
  return inside ? `${inside.slice(key.length).replace(/^\./, "")}: ${errors[inside]}` : undefined;
}
