import { createHash } from "node:crypto";
import { Agent } from "node:https";
import webpush from "web-push";
import {
  urgencyOf,
  WEBPUSH_MAX_PAYLOAD_BYTES,
  webPushPayloadText,
} from "./webpush-payload.ts";
import {
  ProviderName,
  retryAfterMs,
  RetryCause,
  type Push,
  type PushProvider,
  type SendOutcome,
} from "./provider.ts";

export type WebPushProviderOptions = {
  /** The VAPID key pair (URL-safe base64), as made by `web-push generate-vapid-keys`. */
  vapidPublicKey: string;
  vapidPrivateKey: string;
  /** Who push services contact about abuse: a `mailto:` or `https:` URL. */
  vapidSubject: string;
  /** CA certificates (PEM) trusted instead of the system's: for tests against a fake. */
  ca?: string | string[];
  /** Concurrent connections per push service origin (default 64). */
  maxSockets?: number;
  /** Socket idle time (ms) after which a request is abandoned and retried (default 10 s). */
  timeoutMs?: number;
  /** Now, for the TTL and `Retry-After` dates (default: the system clock). */
  clock?: () => Date;
};

/** Four weeks: web-push's default, and the longest that FCM keeps a message. */
export const DEFAULT_TTL_SECONDS = 28 * 24 * 3600;

const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Sends to browsers through their push services (RFC 8030) with the `web-push` package:
 * VAPID-signed, `aes128gcm`-encrypted, over one keep-alive agent shared by all sends.
 * A request that gets no answer within `timeoutMs` is destroyed with its socket, so a
 * push service that hangs frees the agent's sockets for the sends after it. Each push
 * service (an endpoint's origin) is a service of its own to delivery: one that is
 * down pauses its pushes only. Outcomes are values; it never throws for a push
 * service's answer.
 */
export function createWebPushProvider(
  options: WebPushProviderOptions,
): PushProvider {
  const vapidDetails = {
    subject: options.vapidSubject,
    publicKey: options.vapidPublicKey,
    privateKey: options.vapidPrivateKey,
  };
  const vapidHeaders = createVapidSigner(vapidDetails);
  // Fails at startup, not on every push, when a key or the subject is malformed.
  vapidHeaders("https://push.example");
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? (() => new Date());
  const agent = new Agent({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 64,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  });

  return {
    name: ProviderName.webpush,
    serviceOf: (push) =>
      URL.canParse(push.token)
        ? new URL(push.token).origin
        : ProviderName.webpush,
    async send(push: Push): Promise<SendOutcome> {
      const subscription = subscriptionOf(push.subscription);
      if (subscription === undefined)
        return { kind: "invalid_token", reason: "malformed subscription" };
      const now = clock();
      const ttl = ttlSeconds(push.expiresAt, now);
      if (ttl === undefined)
        return { kind: "permanent", reason: "expired before it was sent" };
      const payload = webPushPayloadText(push);
      if (Buffer.byteLength(payload) > WEBPUSH_MAX_PAYLOAD_BYTES)
        return {
          kind: "permanent",
          reason: `payload too large: ${Buffer.byteLength(payload)} bytes, at most ${WEBPUSH_MAX_PAYLOAD_BYTES}`,
        };
      try {
        const result = await webpush.sendNotification(subscription, payload, {
          headers: vapidHeaders(subscription.endpoint),
          TTL: ttl,
          urgency: urgencyOf(push),
          topic: topicOf(push.notificationId),
          timeout: timeoutMs,
          agent,
        });
        const location = result.headers.location;
        return location === undefined
          ? { kind: "sent" }
          : { kind: "sent", providerMessageId: location };
      } catch (error) {
        return outcomeOfError(error, clock());
      }
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

/** How long a VAPID token is valid: web-push's default (at most 24 hours). */
const VAPID_TOKEN_SECONDS = 12 * 3600;
/** A token is signed anew once less than this is left of it. */
const VAPID_RENEW_SECONDS = 3600;

/**
 * The VAPID `Authorization` header for a push service, signed once per service and
 * reused until an hour before it expires: signing an ES256 JWT for every push cost
 * ~200 µs of CPU. Tokens live in real time (push services check them against their
 * clocks), whatever the provider's clock says.
 */
function createVapidSigner(vapid: {
  subject: string;
  publicKey: string;
  privateKey: string;
}): (endpoint: string) => Record<string, string> {
  const tokens = new Map<
    string,
    { headers: Record<string, string>; expiresAt: number }
  >();
  return (endpoint) => {
    // The audience is the push service's origin (RFC 8292).
    const audience = new URL(endpoint).origin;
    const now = Math.floor(Date.now() / 1000);
    const cached = tokens.get(audience);
    if (cached !== undefined && cached.expiresAt - now > VAPID_RENEW_SECONDS)
      return cached.headers;
    const expiresAt = now + VAPID_TOKEN_SECONDS;
    const { Authorization } = webpush.getVapidHeaders(
      audience,
      vapid.subject,
      vapid.publicKey,
      vapid.privateKey,
      "aes128gcm",
      expiresAt,
    );
    const headers = { Authorization };
    tokens.set(audience, { headers, expiresAt });
    return headers;
  };
}

/**
 * The `Topic` header: a retried or duplicated notification replaces the one still
 * queued at the push service. A UUID without dashes fits (32 hex characters); any
 * other id is hashed to fit.
 */
export function topicOf(notificationId: string): string {
  const compact = notificationId.replaceAll("-", "");
  return TOPIC.test(compact)
    ? compact
    : createHash("sha256")
        .update(notificationId)
        .digest("base64url")
        .slice(0, 32);
}

/** Seconds left until `expiresAt`; undefined once it has passed. */
export function ttlSeconds(
  expiresAt: Date | undefined,
  now: Date,
): number | undefined {
  if (expiresAt === undefined) return DEFAULT_TTL_SECONDS;
  const seconds = Math.floor((expiresAt.getTime() - now.getTime()) / 1000);
  return seconds > 0 ? seconds : undefined;
}

type Subscription = {
  endpoint: string;
  keys: { p256dh: string; auth: string };
};

/** The browser's `PushSubscription.toJSON()`, checked so web-push cannot choke on it. */
function subscriptionOf(value: unknown): Subscription | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { endpoint, keys } = value as { endpoint?: unknown; keys?: unknown };
  if (typeof endpoint !== "string" || !URL.canParse(endpoint)) return undefined;
  if (new URL(endpoint).protocol !== "https:") return undefined;
  if (typeof keys !== "object" || keys === null) return undefined;
  const { p256dh, auth } = keys as { p256dh?: unknown; auth?: unknown };
  if (!isBase64Url(p256dh, 65) || !isBase64Url(auth, 16)) return undefined;
  return { endpoint, keys: { p256dh, auth } };
}

function isBase64Url(value: unknown, bytes: number): value is string {
  return (
    typeof value === "string" &&
    /^[A-Za-z0-9_-]+={0,2}$/.test(value) &&
    Buffer.from(value, "base64url").length === bytes
  );
}

function outcomeOfError(error: unknown, now: Date): SendOutcome {
  if (error instanceof webpush.WebPushError) return outcomeOfStatus(error, now);
  const { code, message } = error as { code?: unknown; message?: unknown };
  // web-push destroys the request with this message when the socket goes idle.
  if (message === "Socket timeout")
    return {
      kind: "retry",
      reason: "push service timed out",
      cause: RetryCause.connection,
    };
  if (typeof code === "string")
    return {
      kind: "retry",
      reason: `network error ${code}`,
      cause: RetryCause.connection,
    };
  return {
    kind: "permanent",
    reason: `web-push refused to send: ${String(message ?? error)}`,
  };
}

function outcomeOfStatus(error: webpush.WebPushError, now: Date): SendOutcome {
  const status = error.statusCode;
  const detail = `${status}${error.body === "" ? "" : ` ${error.body.slice(0, 200)}`}`;
  if (status === 404 || status === 410)
    return { kind: "invalid_token", reason: `subscription gone (${detail})` };
  if (status === 408 || status === 429 || status >= 500) {
    const reason = `push service busy (${detail})`;
    const cause = RetryCause.server;
    const ms = retryAfterMs(error.headers["retry-after"], now);
    return ms === undefined
      ? { kind: "retry", reason, cause }
      : { kind: "retry", reason, cause, retryAfterMs: ms };
  }
  if (status === 413)
    return { kind: "permanent", reason: `payload too large (${detail})` };
  if (status === 400)
    return {
      kind: "permanent",
      reason: `push service rejected the request: check the VAPID subject and keys (${detail})`,
    };
  if (status === 401 || status === 403)
    return {
      kind: "permanent",
      reason: `VAPID rejected: check the VAPID keys match the ones the browser subscribed with (${detail})`,
    };
  return { kind: "permanent", reason: `push service refused (${detail})` };
}
