import type { EventEmitter } from "node:events";
import { Client } from "undici";
import {
  createAccessTokens,
  withTimeout,
  type FcmServiceAccount,
} from "./fcm-access-token.ts";
import { outcomeOfAnswer } from "./fcm-answer.ts";
import {
  FCM_MAX_PAYLOAD_BYTES,
  fcmMessageOf,
  fcmPayloadBytes,
  ttlSeconds,
} from "./fcm-message.ts";
import {
  RetryCause,
  type Push,
  type PushProvider,
  type SendOutcome,
} from "./provider.ts";

export type { FcmServiceAccount } from "./fcm-access-token.ts";

/** Give either `accessToken` or `serviceAccount`. */
export type FcmProviderOptions = {
  /** The Firebase project to send as (default: the service account's `project_id`). */
  projectId?: string;
  /** A fixed OAuth 2 access token with the firebase.messaging scope. */
  accessToken?: string;
  /**
   * A service account key: firebase-admin's credential mints tokens from it, through
   * `https.globalAgent` (and `HTTPS_PROXY`): firebase-admin 14 ignores cert()'s agent.
   */
  serviceAccount?: FcmServiceAccount;
  /** Default `https://fcm.googleapis.com`. */
  baseUrl?: string;
  /** CA certificates (PEM) trusted instead of the system's: for tests against a fake. */
  ca?: string | string[];
  /** Concurrent HTTP/2 streams on the one connection (default 100). */
  maxStreams?: number;
  /**
   * Time to connect, to get a token, or between FCM's answer's frames (default 10 s);
   * a PING unanswered for this long after the next is due leaves the connection.
   */
  timeoutMs?: number;
  /** How often an HTTP/2 PING checks the connection (ms, default 60 s). */
  keepAliveMs?: number;
  /** Now, for TTLs, token expiry and `Retry-After` dates (default: the system clock). */
  clock?: () => Date;
};

const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "TIMEOUT",
]);

/**
 * Sends through FCM HTTP v1 over one persistent HTTP/2 connection (undici), not
 * firebase-admin's messaging API: that one hard-codes its host and opens a session per
 * call. firebase-admin serves for the credential only. A request that times out
 * leaves its connection for a new one (see {@link createConnection}). Outcomes are
 * values; it never throws for FCM's answer. Rejects when the options or the service
 * account's key cannot be used.
 */
export async function createFcmProvider(
  options: FcmProviderOptions,
): Promise<PushProvider> {
  const projectId = options.projectId ?? options.serviceAccount?.project_id;
  if (projectId === undefined || projectId === "")
    throw new Error("FCM needs a projectId or a service account's project_id");
  const clock = options.clock ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? 10_000;
  const tokens = await createAccessTokens(options, clock);
  const base = new URL(options.baseUrl ?? "https://fcm.googleapis.com");
  const path = `${base.pathname.replace(/\/$/, "")}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
  const keepAliveMs = options.keepAliveMs ?? 60_000;
  const connection = createConnection(
    () =>
      new Client(base.origin, {
        allowH2: true,
        // undici runs at most `pipelining` requests at once, on HTTP/2 too.
        pipelining: options.maxStreams ?? 100,
        // Per-stream timers: cheaper than an AbortSignal per send, measured.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        pingInterval: keepAliveMs,
        connect: { timeout: timeoutMs, ...(options.ca && { ca: options.ca }) },
      }),
    { timeoutMs, keepAliveMs },
  );

  return {
    name: "fcm",
    async send(push: Push): Promise<SendOutcome> {
      const ttl = ttlSeconds(push.expiresAt, clock());
      if (ttl === 0)
        return { kind: "permanent", reason: "expired before it was sent" };
      const bytes = fcmPayloadBytes(push);
      if (bytes > FCM_MAX_PAYLOAD_BYTES)
        return {
          kind: "permanent",
          reason: `payload too large: ${bytes} bytes, FCM takes at most ${FCM_MAX_PAYLOAD_BYTES}`,
        };
      let accessToken: string;
      try {
        accessToken =
          tokens.current() ?? (await withTimeout(tokens.refresh(), timeoutMs));
      } catch (error) {
        return outcomeOfTokenError(error, timeoutMs);
      }
      const client = connection.current();
      try {
        const response = await client.request({
          path,
          method: "POST",
          headers: {
            authorization: `Bearer ${accessToken}`,
            "content-type": "application/json; charset=UTF-8",
          },
          body: JSON.stringify({ message: fcmMessageOf(push, ttl) }),
          // undici sends a non-idempotent request only on an idle connection: this
          // lets the sends share the HTTP/2 connection. A send that may have reached
          // FCM before the connection broke is a retry either way.
          idempotent: true,
        });
        const text = await response.body.text();
        if (response.statusCode === 401) tokens.forget();
        const retryAfter = response.headers["retry-after"];
        return outcomeOfAnswer(response.statusCode, retryAfter, text, clock());
      } catch (error) {
        if (isTimeout(error)) connection.abandon(client);
        return {
          kind: "retry",
          reason: transportFailure(error, timeoutMs),
          cause: RetryCause.connection,
        };
      }
    },
    close: () => connection.close(),
  };
}

/**
 * The client that sends, replaced when a request on it times out or its PINGs go
 * unanswered: undici cancels a timed-out stream but keeps its HTTP/2 session, and
 * only tells of PINGs that were answered (a `ping` event), so a session whose peer
 * went silent would take every later send. The requests still on a client that is
 * left may finish within the timeout; then it is destroyed.
 */
function createConnection(
  connect: () => Client,
  { timeoutMs, keepAliveMs }: { timeoutMs: number; keepAliveMs: number },
) {
  const leaving = new Set<Client>();
  const unwatch = new Map<Client, () => void>();
  const destroy = (old: Client) =>
    old
      .destroy()
      .catch(() => undefined)
      .finally(() => leaving.delete(old));
  const abandon = (used: Client) => {
    if (used !== client) return;
    client = watched(connect());
    unwatch.get(used)?.();
    leaving.add(used);
    used.close().then(
      () => leaving.delete(used),
      () => destroy(used),
    );
    setTimeout(() => void destroy(used), timeoutMs).unref();
  };
  /** Leaves a client connected without word from FCM for a PING's interval and timeout. */
  const watched = (fresh: Client): Client => {
    let heardAt: number | undefined;
    const heard = () => (heardAt = performance.now());
    // `ping` is documented but missing from undici's event types.
    (fresh as EventEmitter).on("ping", heard);
    fresh.on("connect", heard);
    fresh.on("disconnect", () => (heardAt = undefined));
    const timer = setInterval(() => {
      const silentMs = performance.now() - (heardAt ?? Infinity);
      if (silentMs > keepAliveMs + timeoutMs) abandon(fresh);
    }, keepAliveMs).unref();
    unwatch.set(fresh, () => {
      clearInterval(timer);
      unwatch.delete(fresh);
    });
    return fresh;
  };
  let client = watched(connect());
  return {
    current: () => client,
    /** Leaves `used` unless it was left already (many requests time out together). */
    abandon,
    async close() {
      for (const stop of [...unwatch.values()]) stop();
      await Promise.all([client.close(), ...[...leaving].map(destroy)]);
    },
  };
}

/** A token the service account could not get: its key refused (4xx), or Google away. */
function outcomeOfTokenError(error: unknown, timeoutMs: number): SendOutcome {
  const status = (error as { response?: { status?: unknown } }).response
    ?.status;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof status === "number" && status >= 400 && status < 500)
    return {
      kind: "retry",
      reason: `Google refused the service account (${status} ${message}): check its key`,
      cause: RetryCause.credentials,
    };
  return {
    kind: "retry",
    reason: `no access token: ${transportFailure(error, timeoutMs)}`,
    cause: RetryCause.connection,
  };
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && TIMEOUT_CODES.has(code);
}

function transportFailure(error: unknown, timeoutMs: number): string {
  if (isTimeout(error)) return `no answer within ${timeoutMs} ms`;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return `connection failed: ${typeof code === "string" ? `${code} ` : ""}${message}`;
}
