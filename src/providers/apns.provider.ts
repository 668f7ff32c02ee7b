import { randomUUID } from "node:crypto";
import diagnostics from "node:diagnostics_channel";
import type {
  ClientHttp2Stream,
  Http2Session,
  IncomingHttpHeaders,
} from "node:http2";
import apn from "@parse/node-apn";
import {
  ProviderName,
  pushData,
  type Push,
  type PushProvider,
  type SendOutcome,
} from "./provider.ts";

export type ApnsProviderOptions = {
  /** The .p8 signing key from Apple: its PEM text, or the path of the file. */
  key: string;
  /** The id Apple shows next to the key. */
  keyId: string;
  /** The team that owns the key and the app. */
  teamId: string;
  /** The app's bundle id: the `apns-topic` of every push. */
  topic: string;
  /** api.push.apple.com when true, api.sandbox.push.apple.com when false. */
  production: boolean;
  /** Another address for that environment (a test server, a relay). */
  host?: string;
  port?: number;
  /** CA certificate (PEM) trusted instead of the system's: for tests against a fake. */
  ca?: string;
  /**
   * Sends a push that the environment answers with `BadDeviceToken` once more to the
   * other environment before calling the token invalid: a development build's token
   * is known to the sandbox only, a store build's to production only.
   */
  bothEnvironments?: boolean;
  /** Another address for the other environment. */
  otherHost?: string;
  otherPort?: number;
  /** How long a push may wait for its answer (ms, default 10 s) before it is retried. */
  requestTimeoutMs?: number;
  /** Now, for `expiresAt` and `Retry-After` dates (default: the system clock). */
  clock?: () => Date;
};

/**
 * Sends to Apple's push service with `@parse/node-apn` and a .p8 key (token auth): one
 * HTTP/2 connection per environment, shared by every send. One token per `send()`;
 * the caller bounds concurrency. The payload is `aps` (alert, sound, badge, thread-id,
 * mutable-content when there is an image) plus `pushData()` and `image_url`.
 * Outcomes are values; it never throws for Apple's answer. Throws at creation when the
 * key cannot be read or used.
 */
export function createApnsProvider(options: ApnsProviderOptions): PushProvider {
  const clock = options.clock ?? (() => new Date());
  const primary = new apn.Provider(
    libraryOptions(options, options.production, options.host, options.port),
  );
  const other =
    options.bothEnvironments === true
      ? new apn.Provider(
          libraryOptions(
            options,
            !options.production,
            options.otherHost,
            options.otherPort,
          ),
        )
      : undefined;
  const retryAfters = readRetryAfterHeaders();

  async function sendTo(client: apn.Provider, push: Push): Promise<Answer> {
    // A fresh apns-id per request: it is how our answer's Retry-After is found.
    const apnsId = randomUUID();
    const notification = notificationOf(push, options.topic, apnsId);
    retryAfters.expect(apnsId);
    try {
      const { sent, failed } = await client.send(notification, push.token);
      const failure = failed[0];
      if (failure === undefined) {
        const accepted = sent[0] as { "apns-id"?: string } | undefined;
        return { kind: "accepted", apnsId: accepted?.["apns-id"] ?? apnsId };
      }
      return {
        kind: "refused",
        status: failure.status,
        reason:
          failure.response?.reason ?? failure.error?.message ?? "unknown error",
        timestamp: failure.response?.timestamp,
        retryAfter: retryAfters.take(apnsId),
      };
    } finally {
      retryAfters.forget(apnsId);
    }
  }

  return {
    name: ProviderName.apns,
    async send(push: Push): Promise<SendOutcome> {
      if (!HEX_TOKEN.test(push.token))
        return { kind: "invalid_token", reason: "not a hex APNs device token" };
      const now = clock();
      if (push.expiresAt !== undefined && push.expiresAt <= now)
        return { kind: "permanent", reason: "expired before it was sent" };
      const answer = await sendTo(primary, push);
      if (other === undefined || !isBadDeviceToken(answer))
        return outcomeOf(answer, now);
      const otherAnswer = await sendTo(other, push);
      if (isBadDeviceToken(otherAnswer))
        return {
          kind: "invalid_token",
          reason: "BadDeviceToken in production and in the sandbox",
        };
      return outcomeOf(otherAnswer, now);
    },
    async close() {
      await Promise.all([shutdown(primary), other && shutdown(other)]);
      retryAfters.stop();
    },
  };
}

/** What one environment said about one push. */
type Answer =
  | { kind: "accepted"; apnsId: string }
  | {
      kind: "refused";
      /** Undefined when there was no HTTP answer: timeout, reset, connection lost. */
      status: number | undefined;
      reason: string;
      timestamp: string | undefined;
      retryAfter: string | undefined;
    };

const HEX_TOKEN = /^[0-9a-f]+$/i;
const INVALID_TOKEN_REASONS = new Set([
  "Unregistered",
  "BadDeviceToken",
  "DeviceTokenNotForTopic",
  "ExpiredToken",
]);
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** What to fix when Apple refuses a push for good. */
const FIXES: Readonly<Record<string, string>> = {
  PayloadTooLarge:
    "the payload is over 4 KB: shorten the title, body or the rule's data",
  InvalidProviderToken:
    "Apple refused the provider token: check the .p8 key, its key id and the team id",
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

function isBadDeviceToken(answer: Answer): boolean {
  return answer.kind === "refused" && answer.reason === "BadDeviceToken";
}

function outcomeOf(answer: Answer, now: Date): SendOutcome {
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
  // ExpiredProviderToken: the library has just made a new token; the next try uses it.
  if (
    status === undefined ||
    status >= 500 ||
    RETRY_STATUSES.has(status) ||
    reason === "ExpiredProviderToken"
  ) {
    const retryAfterMs = millisecondsUntil(answer.retryAfter, now);
    return {
      kind: "retry",
      reason: label,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
  const fix = FIXES[reason] ?? "see Apple's list of APNs error reasons";
  return { kind: "permanent", reason: `${label}: ${fix}` };
}

function notificationOf(
  push: Push,
  topic: string,
  apnsId: string,
): apn.Notification {
  const notification = new apn.Notification();
  notification.id = apnsId;
  notification.topic = topic;
  notification.pushType = "alert";
  notification.priority = 10;
  // A UUID: well within the 64 bytes APNs allows.
  notification.collapseId = push.notificationId;
  // Seconds since the epoch. Without a ttl no apns-expiration is sent and Apple stores
  // the push for a device that is offline, as FCM and Web Push keep theirs for weeks:
  // 0 would mean "now or never", lost to any phone that is off when it is sent.
  if (push.expiresAt !== undefined)
    notification.expiry = Math.floor(push.expiresAt.getTime() / 1000);
  notification.alert = { title: push.title, body: push.body };
  if (push.sound !== undefined) notification.sound = push.sound;
  if (push.badge !== undefined) notification.badge = push.badge;
  notification.threadId = push.threadId;
  // The app's notification service extension downloads the image and attaches it.
  if (push.image !== undefined) notification.mutableContent = true;
  notification.payload = {
    ...pushData(push),
    ...(push.image === undefined ? {} : { image_url: push.image }),
  };
  return notification;
}

function libraryOptions(
  options: ApnsProviderOptions,
  production: boolean,
  host: string | undefined,
  port: number | undefined,
): apn.ProviderOptions {
  return {
    token: { key: options.key, keyId: options.keyId, teamId: options.teamId },
    production,
    ...(host === undefined ? {} : { address: host }),
    ...(port === undefined ? {} : { port }),
    ...(options.ca === undefined ? {} : { ca: [options.ca] }),
    // Delivery owns retries. The library would otherwise resend a 429 or 5xx at once
    // (it never sees Retry-After), holding the push and its queue slot meanwhile.
    connectionRetryLimit: 0,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
  };
}

/**
 * Shuts a library provider down. Its shutdown waits for `session.close()` to call back,
 * which Node never does for a session already destroyed (a refused or dropped
 * connection that no later send replaced), so it would hang: such a session is
 * forgotten first, as there is nothing left to close.
 */
function shutdown(provider: apn.Provider): Promise<void> {
  const { client } = provider as unknown as {
    client: { session?: Http2Session | null };
  };
  if (client.session?.destroyed === true) client.session = null;
  return new Promise((resolve) => {
    // Typed as a promise, but returns nothing: the callback is the only signal.
    void provider.shutdown(resolve);
  });
}

/**
 * Picks up the `retry-after` header of our answers, which @parse/node-apn loses: it
 * reads `headers["Retry-After"]`, a name HTTP/2 never has (header names are lower-case
 * on the wire and in Node), and deletes `retryAfter` from every failure it returns.
 * Node publishes each HTTP/2 client response on the `http2.client.stream.finish`
 * diagnostics channel (a recent addition: on a Node without it, retryAfterMs is simply
 * absent); ours are told apart by the apns-id each request carries.
 */
function readRetryAfterHeaders(): {
  expect(apnsId: string): void;
  take(apnsId: string): string | undefined;
  forget(apnsId: string): void;
  stop(): void;
} {
  const awaited = new Map<string, string | undefined>();
  const onResponse = (message: unknown): void => {
    const { stream, headers } = message as {
      stream: ClientHttp2Stream;
      headers: IncomingHttpHeaders;
    };
    const value = headers["retry-after"];
    if (value === undefined) return;
    const apnsId = stream.sentHeaders["apns-id"];
    if (typeof apnsId === "string" && awaited.has(apnsId))
      awaited.set(apnsId, value);
  };
  diagnostics.subscribe(RESPONSE_CHANNEL, onResponse);
  return {
    expect(apnsId) {
      awaited.set(apnsId, undefined);
    },
    take: (apnsId) => awaited.get(apnsId),
    forget(apnsId) {
      awaited.delete(apnsId);
    },
    stop() {
      diagnostics.unsubscribe(RESPONSE_CHANNEL, onResponse);
    },
  };
}

const RESPONSE_CHANNEL = "http2.client.stream.finish";

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
function millisecondsUntil(
  retryAfter: string | undefined,
  now: Date,
): number | undefined {
  if (retryAfter === undefined) return undefined;
  if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter) * 1000;
  const at = Date.parse(retryAfter);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** APNs timestamps are milliseconds since the epoch. */
function isoDate(timestamp: string): string {
  const date = new Date(Number(timestamp));
  return Number.isNaN(date.getTime()) ? timestamp : date.toISOString();
}
