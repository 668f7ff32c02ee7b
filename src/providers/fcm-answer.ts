import { retryAfterMs, RetryCause, type SendOutcome } from "./provider.ts";

const FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/** Maps FCM's answer: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode */
export function outcomeOfAnswer(
  status: number,
  retryAfter: string | string[] | undefined,
  text: string,
  now: Date,
): SendOutcome {
  if (status >= 200 && status < 300) {
    const name = (parseJson(text) as { name?: unknown } | undefined)?.name;
    return typeof name === "string"
      ? { kind: "sent", providerMessageId: name }
      : { kind: "sent" };
  }
  const error = googleErrorOf(text, status);
  const said = `FCM ${status} ${error.fcmCode ?? error.status}: ${error.message}`;
  // UNREGISTERED only with FCM's own error detail: a bare 404 is a wrong URL.
  if (error.fcmCode === "UNREGISTERED")
    return { kind: "invalid_token", reason: `token unregistered (${said})` };
  if (status === 400 && /registration token is not a valid/i.test(said))
    return { kind: "invalid_token", reason: `not an FCM token (${said})` };
  if (status === 408 || status === 429 || status >= 500) {
    const ms = retryAfterMs(retryAfter, now);
    const cause = RetryCause.server;
    return ms === undefined
      ? { kind: "retry", reason: said, cause }
      : { kind: "retry", reason: said, cause, retryAfterMs: ms };
  }
  const reason = `${whatToFix(status, error)} (${said})`;
  // The project's credentials, which no push gets past: they wait until fixed.
  if (
    (status === 401 && error.fcmCode !== "THIRD_PARTY_AUTH_ERROR") ||
    (status === 403 && error.fcmCode !== "SENDER_ID_MISMATCH")
  )
    return { kind: "retry", reason, cause: RetryCause.credentials };
  return { kind: "permanent", reason };
}

function whatToFix(status: number, error: GoogleError): string {
  // The token is tied to another sender (Firebase project), and FCM's guidance on
  // stale tokens names only UNREGISTERED and invalid tokens. Every token answers so
  // when projectId or the key is wrong: disabling every Android device over a
  // configuration mistake costs far more than failing pushes to a few foreign tokens.
  // So permanent, not invalid_token.
  if (error.fcmCode === "SENDER_ID_MISMATCH")
    return "token belongs to another Firebase project; if every token says so, check projectId and the service account";
  if (error.fcmCode === "THIRD_PARTY_AUTH_ERROR")
    return "the Firebase project's APNs key or Web Push credentials are missing or invalid";
  if (status === 401)
    return "FCM refused the access token: check the service account key or accessToken";
  if (status === 403)
    return "not allowed to send for this project: check projectId and the service account's roles";
  if (status === 400) return "FCM rejected the payload";
  return "unexpected answer";
}

type GoogleError = { status: string; message: string; fcmCode?: string };

/** Google's JSON error (`{error: {code, message, status, details}}`), or the raw text. */
function googleErrorOf(text: string, httpStatus: number): GoogleError {
  const error = (parseJson(text) as { error?: unknown } | undefined)?.error;
  if (typeof error !== "object" || error === null)
    return { status: String(httpStatus), message: text.slice(0, 200) };
  const { status, message, details } = error as Record<string, unknown>;
  const fcmError: unknown = Array.isArray(details)
    ? details.find((d: { "@type"?: unknown }) => d["@type"] === FCM_ERROR_TYPE)
    : undefined;
  const fcmCode = (fcmError as { errorCode?: unknown } | undefined)?.errorCode;
  return {
    status: typeof status === "string" ? status : String(httpStatus),
    message: typeof message === "string" ? message : "",
    ...(typeof fcmCode === "string" && { fcmCode }),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
