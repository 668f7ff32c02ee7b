/** Stable, documented error codes. Clients branch on `code`, never on `message`. */
export const ErrorCode = {
  invalidJson: "invalid_json",
  invalidBody: "invalid_body",
  invalidQuery: "invalid_query",
  invalidPath: "invalid_path",
  invalidEvents: "invalid_events",
  payloadTooLarge: "payload_too_large",
  unsupportedMediaType: "unsupported_media_type",
  invalidSignature: "invalid_signature",
  missingSignature: "missing_signature",
  missingWebhookToken: "missing_webhook_token",
  invalidWebhookToken: "invalid_webhook_token",
  invalidWriteKey: "invalid_write_key",
  unauthorized: "unauthorized",
  notFound: "not_found",
  userNotFound: "user_not_found",
  deviceNotFound: "device_not_found",
  unknownCategory: "unknown_category",
  invalidRules: "invalid_rules",
  ruleNotFound: "rule_not_found",
  rulesChanged: "rules_changed",
  ruleDisabled: "rule_disabled",
  notTriggered: "not_triggered",
  matchNotFound: "match_not_found",
  internal: "internal_error",
  unavailable: "service_unavailable",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error meant for the client: a stable code, an HTTP status and a message that says what to fix. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    status: number,
    message: string,
    details?: unknown,
  ) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = status;
    this.details = details;
  }
}
