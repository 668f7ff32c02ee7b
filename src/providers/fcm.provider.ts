import type { Credential } from "firebase-admin/app";
import { Client } from "undici";
import {
  pushData,
  type Push,
  type PushProvider,
  type SendOutcome,
} from "./provider.ts";

/** The fields of a service account key file (the JSON the Firebase console gives). */
export type FcmServiceAccount = {
  project_id: string;
  client_email: string;
  private_key: string;
  [field: string]: unknown;
};

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
  /** Time to connect, to get a token, or between FCM's answer's frames (default 10 s). */
  timeoutMs?: number;
  /** Now, for TTLs, token expiry and `Retry-After` dates (default: the system clock). */
  clock?: () => Date;
};

/** An FCM HTTP v1 `Message`, as Nudge fills it. */
export type FcmMessage = {
  token: string;
  notification: { title: string; body: string; image?: string };
  data: Record<string, string>;
  android: {
    collapse_key: string;
    priority: "high";
    ttl?: string;
    notification: { tag: string; sound?: string };
  };
  apns: {
    headers: Record<string, string>;
    payload: { aps: Record<string, string | number> };
  };
  webpush: { headers?: { TTL: string }; fcm_options?: { link: string } };
};

/** Four weeks: the longest FCM keeps a message. */
const MAX_TTL_SECONDS = 28 * 24 * 3600;
/**
 * Refresh this long before a token expires. Below google-auth-library's own 5-minute
 * eager refresh, so that the credential really hands out a new token when asked.
 */
const REFRESH_MARGIN_MS = 2 * 60_000;
const FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "TIMEOUT",
]);

/**
 * Sends through FCM HTTP v1 over one persistent HTTP/2 connection (undici), not
 * firebase-admin's messaging API: that one hard-codes its host and opens a session per
 * call. firebase-admin serves for the credential only. Outcomes are values; it never
 * throws for FCM's answer. Rejects when the options or the service account's key
 * cannot be used.
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
  const client = new Client(base.origin, {
    allowH2: true,
    // undici runs at most `pipelining` requests at once, on HTTP/2 too.
    pipelining: options.maxStreams ?? 100,
    // Per-stream timers: cheaper than an AbortSignal per send, measured.
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: { timeout: timeoutMs, ...(options.ca && { ca: options.ca }) },
  });

  return {
    name: "fcm",
    async send(push: Push): Promise<SendOutcome> {
      const ttl = ttlSeconds(push.expiresAt, clock());
      if (ttl === 0)
        return { kind: "permanent", reason: "expired before it was sent" };
      let accessToken: string;
      try {
        accessToken =
          tokens.current() ?? (await withTimeout(tokens.refresh(), timeoutMs));
      } catch (error) {
        return outcomeOfTokenError(error, timeoutMs);
      }
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
        return { kind: "retry", reason: transportFailure(error, timeoutMs) };
      }
    },
    close() {
      return client.close();
    },
  };
}

/**
 * The FCM message for a push; `ttl` in seconds, or undefined for FCM's default of four
 * weeks. The deep link travels in `data.deep_link` for the apps to open.
 */
export function fcmMessageOf(push: Push, ttl: number | undefined): FcmMessage {
  const apnsHeaders: Record<string, string> = {};
  // APNs refuses a collapse id over 64 bytes; ours are UUIDs, but it must never fail.
  if (Buffer.byteLength(push.notificationId) <= 64)
    apnsHeaders["apns-collapse-id"] = push.notificationId;
  if (push.expiresAt !== undefined)
    apnsHeaders["apns-expiration"] = String(
      Math.floor(push.expiresAt.getTime() / 1000),
    );
  const aps: Record<string, string | number> = { "thread-id": push.threadId };
  if (push.badge !== undefined) aps.badge = push.badge;
  if (push.sound !== undefined) aps.sound = push.sound;
  // The app's notification service extension downloads the image.
  if (push.image !== undefined) aps["mutable-content"] = 1;
  const link = push.deepLink?.startsWith("https://") ? push.deepLink : null;
  return {
    token: push.token,
    notification: {
      title: push.title,
      body: push.body,
      ...(push.image !== undefined && { image: push.image }),
    },
    data: pushData(push),
    android: {
      // FCM keeps at most four collapse keys per offline device, so a device away for
      // long gets only some of our pushes; in return a send retried after a lost
      // answer replaces the first copy instead of showing twice.
      collapse_key: push.notificationId,
      priority: "high",
      ...(ttl !== undefined && { ttl: `${ttl}s` }),
      notification: {
        tag: push.threadId,
        ...(push.sound !== undefined && { sound: push.sound }),
      },
    },
    apns: { headers: apnsHeaders, payload: { aps } },
    webpush: {
      ...(ttl !== undefined && { headers: { TTL: String(ttl) } }),
      // FCM refuses a link that is not https.
      ...(link !== null && { fcm_options: { link } }),
    },
  };
}

/** Seconds until `expiresAt` (0 once past, at most four weeks); undefined without. */
function ttlSeconds(expiresAt: Date | undefined, now: Date) {
  if (expiresAt === undefined) return undefined;
  const seconds = Math.ceil((expiresAt.getTime() - now.getTime()) / 1000);
  return Math.min(Math.max(seconds, 0), MAX_TTL_SECONDS);
}

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
    return ms === undefined
      ? { kind: "retry", reason: said }
      : { kind: "retry", reason: said, retryAfterMs: ms };
  }
  return { kind: "permanent", reason: `${whatToFix(status, error)} (${said})` };
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

/** `Retry-After` as milliseconds from now: delay-seconds or an HTTP date. */
export function retryAfterMs(
  value: string | string[] | undefined,
  now: Date,
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === "") return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

type AccessTokens = {
  /** The cached token while it is fresh. */
  current(): string | undefined;
  /** A new token; concurrent callers share one request. */
  refresh(): Promise<string>;
  /** Drops the cached token (FCM refused it). */
  forget(): void;
};

async function createAccessTokens(
  options: FcmProviderOptions,
  clock: () => Date,
): Promise<AccessTokens> {
  const fixed = options.accessToken;
  if (fixed !== undefined)
    return {
      current: () => fixed,
      refresh: () => Promise.resolve(fixed),
      forget() {},
    };
  if (options.serviceAccount === undefined)
    throw new Error("FCM needs an accessToken or a serviceAccount");
  // firebase-admin costs ~24 MiB of resident memory, for a service account only: a
  // fixed access token does without it. cert() parses the key now, so a bad key fails
  // at startup.
  const { cert } = await import("firebase-admin/app");
  const { project_id, client_email, private_key } = options.serviceAccount;
  const credential: Credential = cert({
    projectId: project_id,
    clientEmail: client_email,
    privateKey: private_key,
  });
  let cached: { token: string; refreshAt: number } | undefined;
  let inFlight: Promise<string> | undefined;
  const refresh = async (): Promise<string> => {
    const asked = clock().getTime();
    const { access_token, expires_in } = await credential.getAccessToken();
    const lifetimeMs = expires_in * 1000;
    // Half the lifetime at least, so a short-lived token cannot make every send refresh.
    const refreshIn = Math.max(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs / 2);
    cached = { token: access_token, refreshAt: asked + refreshIn };
    return access_token;
  };
  return {
    current: () =>
      cached !== undefined && clock().getTime() < cached.refreshAt
        ? cached.token
        : undefined,
    refresh() {
      inFlight ??= refresh().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    forget() {
      cached = undefined;
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
      kind: "permanent",
      reason: `Google refused the service account (${status} ${message}): check its key`,
    };
  return {
    kind: "retry",
    reason: `no access token: ${transportFailure(error, timeoutMs)}`,
  };
}

function transportFailure(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TIMEOUT_CODES.has(code))
    return `no answer within ${timeoutMs} ms`;
  const message = error instanceof Error ? error.message : String(error);
  return `connection failed: ${typeof code === "string" ? `${code} ` : ""}${message}`;
}

/** Rejects with code TIMEOUT after `ms`; the promise itself goes on (it is shared). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(Object.assign(new Error("timed out"), { code: "TIMEOUT" }));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
