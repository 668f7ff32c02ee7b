import { randomUUID, verify } from "node:crypto";
import { once } from "node:events";
import {
  constants,
  createSecureServer,
  type Http2ServerRequest,
  type Http2Session,
  type Http2Stream,
  type Http2ServerResponse,
} from "node:http2";
import { Agent } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { apsRefusal } from "./fake-apns.ts";
import { testCertificates } from "./test-ca.ts";

/** FCM's errors by FcmError code: HTTP status, Google status, message (as FCM says). */
const FCM_ERRORS = {
  UNREGISTERED: [404, "NOT_FOUND", "Requested entity was not found."],
  INVALID_ARGUMENT: [
    400,
    "INVALID_ARGUMENT",
    "The registration token is not a valid FCM registration token",
  ],
  SENDER_ID_MISMATCH: [403, "PERMISSION_DENIED", "SenderId mismatch"],
  QUOTA_EXCEEDED: [429, "RESOURCE_EXHAUSTED", "Quota exceeded."],
  INTERNAL: [500, "INTERNAL", "Internal error encountered."],
  UNAVAILABLE: [503, "UNAVAILABLE", "The service is currently unavailable."],
} as const;
type FcmErrorCode = keyof typeof FCM_ERRORS;

/**
 * An FCM error (INVALID_ARGUMENT is the not-a-valid-token one), or: `reset` (RST_STREAM
 * on the request), `destroy` (the whole HTTP/2 session), `hang` (never answered),
 * `goaway` (the send is accepted, then the session is closed with a GOAWAY, as
 * Google's front ends do to a connection that has lived long enough).
 */
export type FakeFcmFailure =
  FcmErrorCode | "reset" | "destroy" | "hang" | "goaway";

/** A message the fake accepted: authorized, valid, not scripted to fail. */
export type ReceivedMessage = { project: string; message: any };

export type FakeFcm = {
  /** `https://127.0.0.1:<port>`: the provider's `baseUrl`. */
  origin: string;
  projectId: string;
  /** The static access token the fake accepts (it also accepts those it issued). */
  accessToken: string;
  received: ReceivedMessage[];
  /** Sends answered or dropped, accepted or not. */
  requestCount(): number;
  /** Access tokens issued by the OAuth endpoint. */
  tokenRequestCount(): number;
  /** HTTP/2 sessions opened by clients. */
  sessionCount(): number;
  /** Why sends were refused (401, 400 on the payload…), for assertions. */
  rejections: string[];
  /** The next `count` sends, to any token, get `failure` (`retryAfter` on 429/503). */
  failNext(count: number, failure: FakeFcmFailure, retryAfter?: string): void;
  /** Every send to this registration token gets `failure`. */
  failToken(token: string, failure: FakeFcmFailure, retryAfter?: string): void;
  /**
   * Stops answering sends, like an FCM that accepts connections but no longer serves
   * them: sends on the HTTP/2 connections open now, or opened before `recover()`, are
   * never answered, and those connections stay silent for good.
   */
  stall(): void;
  /** Serves the connections opened from now on, and drops the unused `failNext`s. */
  recover(): void;
  /** Lets the OAuth endpoint accept JWTs that this service account signed. */
  trustServiceAccount(clientEmail: string, publicKeyPem: string): void;
  /**
   * An agent that takes every https request (Google's token endpoint) to this fake.
   * firebase-admin ignores cert()'s agent: install it as `https.globalAgent`.
   */
  tokenAgent(): Agent;
  /** Resolves once `count` messages were accepted in all. */
  waitForReceived(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
};

type Script = { failure: FakeFcmFailure; retryAfter: string | undefined };
type Reply = {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
};
const FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const MESSAGING_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const SEND_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;

/**
 * FCM HTTP v1 on 127.0.0.1 (TLS with the test CA, ALPN h2), and Google's OAuth token
 * endpoint (`POST /token`, HTTP/1.1 too) that verifies the service account's JWT.
 */
export async function startFakeFcm(
  options: { projectId?: string; tokenLifetimeSeconds?: number } = {},
): Promise<FakeFcm> {
  const projectId = options.projectId ?? "nudge-test";
  const accessToken = `static-${randomUUID()}`;
  const validTokens = new Set([accessToken]);
  const serviceAccounts = new Map<string, string>();
  const next: Script[] = [];
  const byToken = new Map<string, Script>();
  const received: ReceivedMessage[] = [];
  const rejections: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  let [requests, tokensIssued, sessions] = [0, 0, 0];

  let stalled = false;
  const live = new Set<Http2Session>();
  const silent = new WeakSet<Http2Session>();

  const { ca, cert, key } = testCertificates();
  const server = createSecureServer({ cert, key, allowHTTP1: true });
  server.on("session", (session) => {
    sessions += 1;
    live.add(session);
    session.on("close", () => live.delete(session));
    if (stalled) silent.add(session);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("request", (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (req.url === "/token") reply(res, issueToken(text));
      else answerSend(req, res, parseJson(text));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;

  const answerSend = (
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    body: any,
  ) => {
    requests += 1;
    // An HTTP/1.1 request has no stream: the token endpoint's, never silenced.
    const session = (req.stream as Http2Stream | undefined)?.session;
    if (session !== undefined && silent.has(session)) return;
    const token: unknown = body?.message?.token;
    const script =
      next.shift() ?? (typeof token === "string" ? byToken.get(token) : null);
    if (script?.failure === "hang") return;
    if (script?.failure === "reset")
      req.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    else if (script?.failure === "destroy") req.stream.session?.destroy();
    else if (script?.failure === "goaway") {
      const answer = judgeSend(req, body, undefined, undefined);
      accept(body.message);
      reply(res, answer);
      session?.close();
    } else {
      const answer = judgeSend(req, body, script?.failure, script?.retryAfter);
      if (answer.status === 200) accept(body.message);
      else rejections.push(`${answer.status} ${JSON.stringify(answer.body)}`);
      reply(res, answer);
    }
  };

  const accept = (message: unknown) => {
    received.push({ project: projectId, message });
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };

  /** FCM's answer: the message name, or why it refuses the send. */
  const judgeSend = (
    req: Http2ServerRequest,
    body: unknown,
    failure: FcmErrorCode | undefined,
    retryAfter: string | undefined,
  ): Reply => {
    const project = SEND_PATH.exec(req.url)?.[1];
    if (req.method !== "POST" || project === undefined)
      return googleError(404, "NOT_FOUND", `No route ${req.url}`);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (bearer === undefined || !validTokens.has(bearer))
      return googleError(401, "UNAUTHENTICATED", "Invalid credentials.");
    if (project !== projectId)
      return googleError(403, "PERMISSION_DENIED", `Denied on ${project}`);
    const invalid = invalidField(body);
    if (invalid !== undefined)
      return googleError(
        400,
        "INVALID_ARGUMENT",
        `Invalid value at '${invalid}'`,
      );
    if (failure !== undefined) {
      const [status, googleStatus, message] = FCM_ERRORS[failure];
      const answer = googleError(status, googleStatus, message, failure);
      if (retryAfter !== undefined)
        answer.headers = { "retry-after": retryAfter };
      return answer;
    }
    const name = `projects/${project}/messages/${randomUUID()}`;
    return { status: 200, body: { name } };
  };

  /** A JWT that a trusted service account signed for FCM gets an access token. */
  const issueToken = (text: string): Reply => {
    const assertion = new URLSearchParams(text).get("assertion") ?? "";
    const [header, claims = "", signature = ""] = assertion.split(".");
    const jwt = parseJson(Buffer.from(claims, "base64url").toString()) as
      { iss?: string; aud?: string; scope?: string } | undefined;
    const publicKey = serviceAccounts.get(jwt?.iss ?? "");
    const signed =
      publicKey !== undefined &&
      verify(
        "RSA-SHA256",
        Buffer.from(`${header}.${claims}`),
        publicKey,
        Buffer.from(signature, "base64url"),
      );
    if (
      !signed ||
      jwt?.aud !== GOOGLE_TOKEN_URL ||
      !jwt.scope?.includes(MESSAGING_SCOPE)
    ) {
      const error = { error: "invalid_grant", error_description: "Bad JWT." };
      return { status: 400, body: error };
    }
    tokensIssued += 1;
    const issued = `ya29.fake-${tokensIssued}-${randomUUID()}`;
    validTokens.add(issued);
    const expires_in = options.tokenLifetimeSeconds ?? 3599;
    const token = { access_token: issued, expires_in, token_type: "Bearer" };
    return { status: 200, body: token };
  };

  return {
    origin: `https://127.0.0.1:${port}`,
    projectId,
    accessToken,
    received,
    requestCount: () => requests,
    tokenRequestCount: () => tokensIssued,
    sessionCount: () => sessions,
    rejections,
    failNext(count, failure, retryAfter) {
      for (let i = 0; i < count; i += 1) next.push({ failure, retryAfter });
    },
    failToken(token, failure, retryAfter) {
      byToken.set(token, { failure, retryAfter });
    },
    stall() {
      stalled = true;
      for (const session of live) silent.add(session);
    },
    recover() {
      stalled = false;
      next.length = 0;
    },
    trustServiceAccount(clientEmail, publicKeyPem) {
      serviceAccounts.set(clientEmail, publicKeyPem);
    },
    tokenAgent() {
      // Agent options override the request's: every https request lands here, and
      // the certificate is checked for "localhost" instead of Google's host name.
      return new Agent({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca,
      });
    },
    waitForReceived(count, timeoutMs = 10_000) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${received.length} of ${count} messages received`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        waiters.push({ count, resolve: done });
      });
    },
    async close() {
      const closed = once(server, "close");
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function reply(res: Http2ServerResponse, { status, body, headers }: Reply) {
  const type = { "content-type": "application/json; charset=UTF-8" };
  res.writeHead(status, { ...type, ...headers });
  res.end(JSON.stringify(body));
}

/** Google's JSON error, with an FcmError detail when FCM names a code. */
function googleError(
  status: number,
  googleStatus: string,
  message: string,
  errorCode?: FcmErrorCode,
): Reply {
  const details = errorCode ? [{ "@type": FCM_ERROR_TYPE, errorCode }] : [];
  const error = { code: status, message, status: googleStatus, details };
  return { status, body: { error } };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const FIELDS = "token notification data android apns webpush fcm_options";
const optional = (valid: (v: unknown) => boolean) => (v: unknown) =>
  v === undefined || valid(v);
const string = (pattern: RegExp) => (v: unknown) =>
  typeof v === "string" && pattern.test(v);
/** What FCM checks of the fields Nudge sends, by path under `message`. */
const CHECKS: [path: string, valid: (value: unknown) => boolean][] = [
  ["token", string(/./)],
  ["notification", optional(isStringMap)],
  ["android", optional(isObject)],
  ["android.ttl", optional(string(/^\d+(\.\d{1,9})?s$/))],
  ["android.priority", optional(string(/^(high|normal)$/))],
  ["android.notification", optional(isObject)],
  ["android.notification.tag", optional(string(/./))],
  ["android.notification.sound", optional(string(/./))],
  ["android.notification.channel_id", optional(string(/./))],
  ["android.notification.icon", optional(string(/./))],
  ["android.notification.color", optional(string(/^#[0-9A-Fa-f]{6}$/))],
  ["apns.headers.apns-priority", optional(string(/^(10|5|1)$/))],
  ["apns.headers", optional(isStringMap)],
  ["apns.payload", optional(isObject)],
  ["webpush.headers", optional(isStringMap)],
  ["webpush.fcm_options.link", optional(string(/^https:\/\//))],
];

/** The first field FCM would refuse, as FCM names it; undefined when all are valid. */
function invalidField(body: unknown): string | undefined {
  const message = isObject(body) ? body.message : undefined;
  if (!isObject(message)) return "message";
  const known = FIELDS.split(" ");
  const unknown = Object.keys(message).find((name) => !known.includes(name));
  if (unknown !== undefined) return `message.${unknown}`;
  const data = message.data ?? {};
  if (!isObject(data)) return "message.data";
  const index = Object.values(data).findIndex((v) => typeof v !== "string");
  if (index >= 0) return `message.data[${index}].value`;
  const reserved = Object.keys(data).findIndex(isReservedDataKey);
  if (reserved >= 0) return `message.data[${reserved}].key`;
  const path = CHECKS.find(([path, valid]) => !valid(at(message, path)))?.[0];
  if (path !== undefined) return `message.${path}`;
  const field = unknownAndroidField(message);
  if (field !== undefined) return field;
  const aps = at(message, "apns.payload.aps");
  if (isObject(aps) && apsRefusal(aps) !== undefined)
    return "message.apns.payload";
  return backgroundProblem(message);
}

/**
 * FCM hands `apns` to APNs, which refuses a background push at another priority than
 * 5, or one whose `aps` holds an alert, sound or badge.
 */
function backgroundProblem(message: Record<string, unknown>) {
  const headers = at(message, "apns.headers") as
    Record<string, string> | undefined;
  if (headers?.["apns-push-type"] !== "background") return undefined;
  if (headers["apns-priority"] !== "5") return "message.apns.headers";
  const aps = at(message, "apns.payload.aps");
  if (!isObject(aps) || aps["content-available"] !== 1)
    return "message.apns.payload";
  if (["alert", "sound", "badge"].some((key) => key in aps))
    return "message.apns.payload";
  return message.notification === undefined
    ? undefined
    : "message.notification";
}

const ANDROID_NOTIFICATION_FIELDS = [
  "title",
  "body",
  "icon",
  "color",
  "sound",
  "tag",
  "click_action",
  "channel_id",
  "image",
  "notification_priority",
  "visibility",
];

/** A field of android.notification that FCM's AndroidNotification does not have. */
function unknownAndroidField(message: Record<string, unknown>) {
  const notification = at(message, "android.notification");
  if (!isObject(notification)) return undefined;
  const name = Object.keys(notification).find(
    (key) => !ANDROID_NOTIFICATION_FIELDS.includes(key),
  );
  return name === undefined
    ? undefined
    : `message.android.notification.${name}`;
}

/** FCM's reserved data keys: "from", "notification", "message_type", google… and gcm…. */
function isReservedDataKey(key: string): boolean {
  return (
    ["from", "notification", "message_type"].includes(key) ||
    /^(google|gcm)/.test(key)
  );
}

function at(object: unknown, path: string): unknown {
  let value = object;
  for (const key of path.split("."))
    value = isObject(value) ? value[key] : undefined;
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringMap(value: unknown): boolean {
  return (
    isObject(value) && Object.values(value).every((v) => typeof v === "string")
  );
}
