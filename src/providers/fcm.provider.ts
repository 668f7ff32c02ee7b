import {
  createAccessTokens,
  withTimeout,
  type AccessTokens,
  type FcmServiceAccount,
} from "./fcm-access-token.ts";
import { outcomeOfAnswer } from "./fcm-answer.ts";
import {
  connectHttp2,
  Http2Failure,
  type Http2Connection,
} from "./http2-connection.ts";
import {
  FCM_MAX_PAYLOAD_BYTES,
  fcmMessageOf,
  fcmMessageBytes,
  ttlSeconds,
  type FcmMessage,
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
  /** Concurrent HTTP/2 streams on the one connection (default 100); more sends wait. */
  maxStreams?: number;
  /**
   * Time to get a token, for FCM's whole answer to a send, and for an answer to a PING
   * (default 10 s): a send or PING unanswered in time leaves the connection.
   */
  timeoutMs?: number;
  /** How often an HTTP/2 PING checks the connection (ms, default 60 s). */
  keepAliveMs?: number;
  /** Now, for TTLs, token expiry and `Retry-After` dates (default: the system clock). */
  clock?: () => Date;
};

/**
 * Sends through FCM HTTP v1 over one persistent HTTP/2 connection (Node's own client,
 * see {@link connectHttp2}), not firebase-admin's messaging API: that one hard-codes its
 * host and opens a session per call. firebase-admin serves for the credential only.
 * A request that times out leaves its connection for a new one. Outcomes are values;
 * it never throws for FCM's answer. Rejects when the options or the service account's
 * key cannot be used.
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
  const connection = connectHttp2(base.origin, {
    ca: options.ca,
    timeoutMs,
    keepAliveMs: options.keepAliveMs ?? 60_000,
    maxStreams: options.maxStreams ?? 100,
  });
  const sender: FcmSender = { connection, tokens, path, clock, timeoutMs };
  return {
    name: "fcm",
    send: (push: Push) => sendPush(sender, push),
    close: () => connection.close(),
  };
}

/** What every send of one provider shares. */
type FcmSender = {
  readonly connection: Http2Connection;
  readonly tokens: AccessTokens;
  /** The messages:send path of the project. */
  readonly path: string;
  readonly clock: () => Date;
  readonly timeoutMs: number;
};

async function sendPush(sender: FcmSender, push: Push): Promise<SendOutcome> {
  const { tokens, clock, timeoutMs } = sender;
  const ttl = ttlSeconds(push.expiresAt, clock());
  if (ttl === 0)
    return { kind: "permanent", reason: "expired before it was sent" };
  const message = fcmMessageOf(push, ttl);
  const bytes = fcmMessageBytes(message);
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
  return postMessage(sender, accessToken, message);
}

async function postMessage(
  { connection, tokens, path, clock, timeoutMs }: FcmSender,
  accessToken: string,
  message: FcmMessage,
): Promise<SendOutcome> {
  try {
    const answer = await connection.request(
      {
        ":method": "POST",
        ":path": path,
        authorization: `Bearer ${accessToken}`,
        "content-type": "application/json; charset=UTF-8",
      },
      JSON.stringify({ message }),
    );
    if (answer.status === 401) tokens.forget();
    const retryAfter = answer.headers["retry-after"];
    return outcomeOfAnswer(answer.status, retryAfter, answer.body, clock());
  } catch (error) {
    return {
      kind: "retry",
      reason: transportFailure(error, timeoutMs),
      cause: RetryCause.connection,
    };
  }
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
  return (
    (error instanceof Http2Failure && error.timedOut) ||
    (error as { code?: unknown } | null)?.code === "TIMEOUT"
  );
}

function transportFailure(error: unknown, timeoutMs: number): string {
  if (isTimeout(error)) return `no answer within ${timeoutMs} ms`;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return `connection failed: ${typeof code === "string" ? `${code} ` : ""}${message}`;
}
