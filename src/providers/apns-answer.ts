import { retryAfterMs, RetryCause, type SendOutcome } from "./provider.ts";

/** What one environment said about one push. */
export type ApnsAnswer =
  | { kind: "accepted"; apnsId: string }
  | {
      kind: "refused";
      /** Undefined when there was no HTTP answer: timeout, reset, connection lost. */
      status: number | undefined;
      reason: string;
      timestamp: string | undefined;
      retryAfter: string | undefined;
    };

const INVALID_TOKEN_REASONS = new Set([
  "Unregistered",
  "BadDeviceToken",
  "DeviceTokenNotForTopic",
  "ExpiredToken",
]);
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** What to fix when Apple refuses a push. */
const FIXES: Readonly<Record<string, string>> = {
  PayloadTooLarge:
    "the payload is over 4 KB: shorten the title, body or the rule's data",
  InvalidProviderToken:
    "Apple refused the provider token: check the .p8 key, its key id and the team id",
  ExpiredProviderToken:
    "Apple says the provider token expired: a new one is made; if this repeats, check the host's clock",
  MissingProviderToken:
    "no provider token was sent: check the APNs key settings",
  BadCertificate: "Apple refused the credentials: check the .p8 key",
  BadCertificateEnvironment:
    "the credentials are for the other environment: check APNS_PRODUCTION",
  BadTopic: "the topic is not valid: set it to the app's bundle id",
  TopicDisallowed:
    "the key's team may not push to this topic: check the bundle id and the team id",
  MissingTopic: "no topic was sent: set it to the app's bundle id",
  Forbidden:
    "Apple refused the request: check the key and the app's push capability",
};

/** Whether the other environment may know the token: see `bothEnvironments`. */
export function isBadDeviceToken(answer: ApnsAnswer): boolean {
  return answer.kind === "refused" && answer.reason === "BadDeviceToken";
}

/**
 * Maps Apple's answer to an outcome, telling what to fix when the fault is in the
 * settings rather than in one push.
 */
export function outcomeOfAnswer(answer: ApnsAnswer, now: Date): SendOutcome {
  if (answer.kind === "accepted")
    return { kind: "sent", providerMessageId: answer.apnsId };
  const { status, reason, timestamp } = answer;
  if (status === 410 || INVALID_TOKEN_REASONS.has(reason)) {
    const since = timestamp === undefined ? "" : ` since ${isoDate(timestamp)}`;
    return { kind: "invalid_token", reason: `${reason}${since}` };
  }
  const label =
    status === undefined
      ? `no answer from APNs: ${reason}`
      : `APNs ${status} ${reason}`;
  const fix = FIXES[reason] ?? "see Apple's list of APNs error reasons";
  // Every 403 is about the key or token, never about one push: no push would get
  // through, so they wait for the credentials instead of failing one by one.
  if (status === 403)
    return {
      kind: "retry",
      reason: `${label}: ${fix}`,
      cause: RetryCause.credentials,
    };
  if (status === undefined || status >= 500 || RETRY_STATUSES.has(status)) {
    const ms = retryAfterMs(answer.retryAfter, now);
    return {
      kind: "retry",
      reason: label,
      cause: status === undefined ? RetryCause.connection : RetryCause.server,
      ...(ms === undefined ? {} : { retryAfterMs: ms }),
    };
  }
  return { kind: "permanent", reason: `${label}: ${fix}` };
}

/** APNs timestamps are milliseconds since the epoch. */
function isoDate(timestamp: string): string {
  const date = new Date(Number(timestamp));
  return Number.isNaN(date.getTime()) ? timestamp : date.toISOString();
}
