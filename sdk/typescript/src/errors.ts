/** Every failure of the SDK rejects with a BasaltError. */
export class BasaltError extends Error {
  /** HTTP status, or 0 when no answer arrived (network failure, abort). */
  readonly status: number;
  /** A code from the server's error table, or `network`, `aborted`, `closed`, `resync_required`, … */
  readonly code: string;
  readonly details: Record<string, unknown>;
  /** The `x-request-id` of the answer, when there was one. */
  readonly requestId: string | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    details?: Record<string, unknown> | undefined;
    requestId?: string | null | undefined;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "BasaltError";
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
  }
}

const STATUS_CODES: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  405: "method_not_allowed",
  409: "already_exists",
  412: "failed_precondition",
  413: "payload_too_large",
  415: "unsupported_media_type",
  416: "range_not_satisfiable",
  422: "validation_failed",
  429: "rate_limited",
  503: "unavailable",
};

/** Builds the error of a non-2xx answer from its status, headers and body text. */
export function errorFromResponse(status: number, requestId: string | null, text: string): BasaltError {
  let code = STATUS_CODES[status] ?? (status >= 500 ? "internal" : "unknown");
  let message = text ? text.slice(0, 500) : `HTTP ${status}`;
  let details: Record<string, unknown> = {};
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (body && typeof body === "object" && body.error && typeof body.error === "object") {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string") message = body.error.message;
      if (body.error.details && typeof body.error.details === "object") {
        details = body.error.details as Record<string, unknown>;
      }
    }
  } catch {
    // not JSON: keep the status-derived code and the raw text
  }
  return new BasaltError({ status, code, message, details, requestId });
}

export function networkError(cause: unknown): BasaltError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new BasaltError({ status: 0, code: "network", message: `network failure: ${message}`, cause });
}

export function abortError(cause?: unknown): BasaltError {
  return new BasaltError({ status: 0, code: "aborted", message: "the request was aborted", cause });
}
