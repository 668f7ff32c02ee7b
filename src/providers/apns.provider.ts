import { randomUUID } from "node:crypto";
import apn from "@parse/node-apn";
import {
  isBadDeviceToken,
  outcomeOfAnswer,
  type ApnsAnswer,
} from "./apns-answer.ts";
import {
  abandonSession,
  keepAlive,
  shutdown,
  watchRequests,
  type RequestWatch,
} from "./apns-connection.ts";
import {
  APNS_MAX_PAYLOAD_BYTES,
  apnsRequestOf,
  type ApnsRequest,
} from "./apns-payload.ts";
import {
  ProviderName,
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
  /**
   * How long a push may wait for its answer (ms, default 10 s) before it is retried,
   * and a PING before its connection is left for a new one.
   */
  requestTimeoutMs?: number;
  /** How often an HTTP/2 PING checks each connection (ms, default 60 s). */
  keepAliveMs?: number;
  /** Now, for `expiresAt` and `Retry-After` dates (default: the system clock). */
  clock?: () => Date;
};

/**
 * Sends to Apple's push service with `@parse/node-apn` and a .p8 key (token auth): one
 * HTTP/2 connection per environment, shared by every send, and left for a new one when
 * a request or a PING on it gets no answer in time (see {@link abandonSession}). One
 * token per `send()`;
 * the caller bounds concurrency. The payload is built by {@link apnsRequestOf}; one
 * over Apple's limit fails without a request.
 * Outcomes are values; it never throws for Apple's answer. Throws at creation when the
 * key cannot be read or used.
 */
export function createApnsProvider(options: ApnsProviderOptions): PushProvider {
  const clock = options.clock ?? (() => new Date());
  const { primary, other } = createClients(options);
  const sender: ApnsSender = {
    primary,
    other,
    topic: options.topic,
    clock,
    requests: watchRequests(),
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
  const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
  const stopKeepAlives = [primary, other].map((client) =>
    client === undefined
      ? () => undefined
      : keepAlive(client, keepAliveMs, sender.requestTimeoutMs),
  );
  return {
    name: ProviderName.apns,
    send: (push: Push) => sendPush(sender, push),
    async close() {
      await Promise.all([shutdown(primary), other && shutdown(other)]);
      sender.requests.stop();
      for (const stop of stopKeepAlives) stop();
    },
  };
}

/** What every send of one provider shares. */
type ApnsSender = {
  readonly primary: apn.Provider;
  /** The other environment, asked when `bothEnvironments` is set. */
  readonly other: apn.Provider | undefined;
  readonly topic: string;
  readonly clock: () => Date;
  readonly requests: RequestWatch;
  readonly requestTimeoutMs: number;
};

function createClients(options: ApnsProviderOptions): {
  primary: apn.Provider;
  other: apn.Provider | undefined;
} {
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
  return { primary, other };
}

async function sendPush(sender: ApnsSender, push: Push): Promise<SendOutcome> {
  if (!HEX_TOKEN.test(push.token))
    return { kind: "invalid_token", reason: "not a hex APNs device token" };
  const now = sender.clock();
  if (push.expiresAt !== undefined && push.expiresAt <= now)
    return { kind: "permanent", reason: "expired before it was sent" };
  const request = compiledRequestOf(push);
  const bytes = Buffer.byteLength(request.json);
  if (bytes > APNS_MAX_PAYLOAD_BYTES)
    return {
      kind: "permanent",
      reason: `payload too large: ${bytes} bytes, APNs takes at most ${APNS_MAX_PAYLOAD_BYTES}: shorten the title, body or the rule's data`,
    };
  const answer = await sendTo(sender, sender.primary, request, push.token);
  if (sender.other === undefined || !isBadDeviceToken(answer))
    return outcomeOfAnswer(answer, now);
  const otherAnswer = await sendTo(sender, sender.other, request, push.token);
  if (isBadDeviceToken(otherAnswer))
    return {
      kind: "invalid_token",
      reason: "BadDeviceToken in production and in the sandbox",
    };
  return outcomeOfAnswer(otherAnswer, now);
}

async function sendTo(
  sender: ApnsSender,
  client: apn.Provider,
  request: CompiledRequest,
  token: string,
): Promise<ApnsAnswer> {
  const { requests } = sender;
  // A fresh apns-id per request: it is how our answer's Retry-After is found.
  const apnsId = randomUUID();
  const notification = notificationOf(request, sender.topic, apnsId);
  requests.expect(apnsId);
  try {
    const { sent, failed } = await client.send(notification, token);
    const failure = failed[0];
    if (failure === undefined) {
      const accepted = sent[0] as { "apns-id"?: string } | undefined;
      return { kind: "accepted", apnsId: accepted?.["apns-id"] ?? apnsId };
    }
    const reason =
      failure.response?.reason ?? failure.error?.message ?? "unknown error";
    const session = requests.sessionOf(apnsId);
    if (reason === TIMEOUT_MESSAGE && session !== undefined)
      abandonSession(client, session, sender.requestTimeoutMs);
    return {
      kind: "refused",
      status: failure.status,
      reason,
      timestamp: failure.response?.timestamp,
      retryAfter: requests.retryAfterOf(apnsId),
    };
  } finally {
    requests.forget(apnsId);
  }
}

const HEX_TOKEN = /^[0-9a-f]+$/i;
/** How the library says that a request had no answer in time. */
const TIMEOUT_MESSAGE = "apn write timeout";
const DEFAULT_TIMEOUT_MS = 10_000;
/** As often as the library's own heartbeat, which only logs a missing answer. */
const DEFAULT_KEEPALIVE_MS = 60_000;

/** A push's APNs request with its payload's JSON: built once, measured, then sent. */
type CompiledRequest = ApnsRequest & { json: string };

function compiledRequestOf(push: Push): CompiledRequest {
  const request = apnsRequestOf(push);
  return { ...request, json: JSON.stringify(request.payload) };
}

function notificationOf(
  request: CompiledRequest,
  topic: string,
  apnsId: string,
): apn.Notification {
  const notification = new apn.Notification();
  notification.id = apnsId;
  notification.topic = topic;
  notification.pushType = request.pushType;
  notification.priority = request.priority;
  notification.collapseId = request.collapseId;
  if (request.expiration !== undefined)
    notification.expiry = request.expiration;
  // Sent as built, byte for byte: the payload planning measured. The library caches
  // its JSON in `compiled` (untyped) and sends that: set, the JSON measured before
  // the send is not built again.
  notification.rawPayload = request.payload;
  (notification as { compiled?: string }).compiled = request.json;
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
    requestTimeout: options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}
