import { generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { once } from "node:events";
import {
  constants,
  createSecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { testCertificates } from "./test-ca.ts";

/** An APNs signing key, as Apple hands it out (a .p8 file), and its public half. */
export type ApnsSigningKey = {
  /** The .p8 text: an EC P-256 private key, PKCS#8 PEM. */
  p8: string;
  /** What the fake verifies provider tokens with. */
  publicKey: KeyObject;
};

/** A new EC P-256 key pair, like the .p8 key a developer downloads from Apple. */
export function generateApnsSigningKey(): ApnsSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", {
    namedCurve: "prime256v1",
  });
  const p8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { p8, publicKey };
}

/**
 * A scripted answer instead of 200: an APNs error (`timestamp` for 410, `retryAfter`
 * for 429), a reset of the stream, the whole connection destroyed, or no answer at all.
 */
export type FakeApnsAnswer =
  | { status: number; reason: string; retryAfter?: string; timestamp?: number }
  | { resetStream: true }
  | { destroySession: true }
  | { hang: true };

/** A push the fake accepted: provider token verified, payload parsed. */
export type ReceivedPush = {
  token: string;
  topic: string | undefined;
  collapseId: string | undefined;
  expiration: string | undefined;
  pushType: string | undefined;
  priority: string | undefined;
  apnsId: string | undefined;
  payload: unknown;
};

export type FakeApns = {
  host: "127.0.0.1";
  port: number;
  /** The accepted pushes, in the order they arrived. */
  received: ReceivedPush[];
  /** Every request seen, accepted or not. */
  requestCount(): number;
  /** HTTP/2 connections opened by clients. */
  sessionCount(): number;
  /** Every request for this token gets `answer`. */
  answerToken(token: string, answer: FakeApnsAnswer): void;
  /** The next `count` requests (any token, after authentication) get `answer`. */
  answerNext(count: number, answer: FakeApnsAnswer): void;
  /**
   * Stops answering, like an APNs that accepts connections but no longer serves them:
   * requests on the connections open now, or opened before `recover()`, are never
   * answered, and those connections stay silent for good.
   */
  stall(): void;
  /** Serves the connections opened from now on, and drops the unused `answerNext`s. */
  recover(): void;
  /** Resolves once `count` pushes have been accepted in all. */
  waitForPushes(count: number): Promise<void>;
  close(): Promise<void>;
};

export type FakeApnsOptions = {
  teamId: string;
  keyId: string;
  /** The public half of the key the provider signs its tokens with. */
  publicKey: KeyObject;
};

const MAX_PAYLOAD_BYTES = 4096;
const DEVICE_PATH = /^\/3\/device\/([^/]+)$/;

/**
 * A protocol-level APNs on 127.0.0.1 (HTTP/2 over TLS with the test CA): checks the
 * provider token of every request like Apple does, records accepted pushes and answers
 * as scripted. Allows 1,000 concurrent streams per connection, like Apple.
 */
export async function startFakeApns(
  options: FakeApnsOptions,
): Promise<FakeApns> {
  const { cert, key } = testCertificates();
  const server = createSecureServer({
    cert,
    key,
    settings: { maxConcurrentStreams: 1000 },
  });
  const sessions = new Set<ServerHttp2Session>();
  const byToken = new Map<string, FakeApnsAnswer>();
  const next: FakeApnsAnswer[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const received: ReceivedPush[] = [];
  // Authorization headers already verified: a client reuses its token for up to an
  // hour, and an ECDSA check on every request would dominate the fake under load.
  const verified = new Set<string>();
  let requests = 0;
  let sessionsOpened = 0;
  let stalled = false;
  const silent = new WeakSet<Http2Session>();

  server.on("session", (session) => {
    sessionsOpened += 1;
    sessions.add(session);
    if (stalled) silent.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {}); // a client going away mid-request
  });
  server.on("stream", (stream, headers) => {
    requests += 1;
    stream.on("error", () => {}); // a client resetting its stream
    if (stream.session !== undefined && silent.has(stream.session)) return;
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      handle(stream, headers, Buffer.concat(chunks));
    });
  });

  function handle(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): void {
    const token = DEVICE_PATH.exec(headers[":path"] ?? "")?.[1] ?? "";
    const payload = parseJson(body);
    const refusal = refusalOf(token, headers, body.length, payload);
    if (refusal !== undefined) {
      reply(stream, refusal);
      return;
    }
    const value = (name: string) => headers[name] as string | undefined;
    received.push({
      token,
      topic: value("apns-topic"),
      collapseId: value("apns-collapse-id"),
      expiration: value("apns-expiration"),
      pushType: value("apns-push-type"),
      priority: value("apns-priority"),
      apnsId: value("apns-id"),
      payload,
    });
    stream.respond({ ":status": 200, "apns-id": value("apns-id") ?? "" });
    stream.end();
    for (const waiter of waiters.filter((w) => w.count <= received.length)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /** Apple's checks, with the scripted answers right after authentication. */
  function refusalOf(
    token: string,
    headers: IncomingHttpHeaders,
    bytes: number,
    payload: unknown,
  ): FakeApnsAnswer | undefined {
    if (headers[":method"] !== "POST" || token === "")
      return { status: 404, reason: "BadPath" };
    const authorization = headers.authorization ?? "";
    if (!verified.has(authorization)) {
      if (!isValidProviderToken(authorization, options))
        return { status: 403, reason: "InvalidProviderToken" };
      verified.add(authorization);
    }
    if (headers["apns-topic"] === undefined)
      return { status: 400, reason: "MissingTopic" };
    const scripted = byToken.get(token) ?? next.shift();
    if (scripted !== undefined) return scripted;
    if (bytes > MAX_PAYLOAD_BYTES)
      return { status: 413, reason: "PayloadTooLarge" };
    if (payload === undefined) return { status: 400, reason: "PayloadEmpty" };
    return pushTypeRefusal(headers, payload);
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  return {
    host: "127.0.0.1",
    port: (server.address() as AddressInfo).port,
    received,
    requestCount: () => requests,
    sessionCount: () => sessionsOpened,
    answerToken(token, answer) {
      byToken.set(token, answer);
    },
    answerNext(count, answer) {
      for (let i = 0; i < count; i += 1) next.push(answer);
    },
    stall() {
      stalled = true;
      for (const session of sessions) silent.add(session);
    },
    recover() {
      stalled = false;
      next.length = 0;
    },
    waitForPushes(count) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * What Apple documents for each push type: priority 10, 5 or 1; a background push goes
 * at priority 5 with `content-available: 1` and no alert, sound or badge (Apple
 * throttles or refuses anything else); an alert push carries an alert.
 */
function pushTypeRefusal(
  headers: IncomingHttpHeaders,
  payload: unknown,
): FakeApnsAnswer | undefined {
  const pushType = headers["apns-push-type"];
  const priority = headers["apns-priority"] ?? "10";
  if (!["10", "5", "1"].includes(String(priority)))
    return { status: 400, reason: "BadPriority" };
  const aps = (payload as { aps?: Record<string, unknown> }).aps ?? {};
  if (pushType === "background") {
    if (priority !== "5") return { status: 400, reason: "BadPriority" };
    const shown = ["alert", "sound", "badge"].some((key) => key in aps);
    if (shown || aps["content-available"] !== 1)
      return { status: 400, reason: "InvalidPushType" };
    return undefined;
  }
  if (pushType === "alert")
    return aps.alert === undefined
      ? { status: 400, reason: "InvalidPushType" }
      : apsRefusal(aps);
  return { status: 400, reason: "InvalidPushType" };
}

/**
 * The `aps` keys as Apple documents them. APNs itself forwards a wrong value and the
 * device ignores it (a category it does not know shows no buttons), so the fake
 * refuses it instead, with a reason of its own, for the test to see the mistake.
 */
export function apsRefusal(
  aps: Record<string, unknown>,
): FakeApnsAnswer | undefined {
  const bad = APS_CHECKS.find(([key, valid]) => key in aps && !valid(aps[key]));
  if (bad !== undefined)
    return { status: 400, reason: `FakeInvalidAps ${bad[0]}` };
  const alert = aps.alert;
  if (typeof alert === "object" && alert !== null) {
    const texts = Object.values(alert as Record<string, unknown>);
    if (texts.some((t) => typeof t !== "string"))
      return { status: 400, reason: "FakeInvalidAps alert" };
  }
  return undefined;
}

const isString = (value: unknown) => typeof value === "string";
const LEVELS = ["passive", "active", "time-sensitive", "critical"];
/** Apple's documented `aps` values (critical needs an entitlement Nudge never asks for). */
const APS_CHECKS: [key: string, valid: (value: unknown) => boolean][] = [
  ["category", isString],
  ["thread-id", isString],
  ["interruption-level", (v) => LEVELS.includes(v as string)],
  ["relevance-score", (v) => typeof v === "number" && v >= 0 && v <= 1],
];

function reply(stream: ServerHttp2Stream, answer: FakeApnsAnswer): void {
  if ("hang" in answer) return;
  if ("resetStream" in answer) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if ("destroySession" in answer) {
    stream.session?.destroy();
    return;
  }
  const { status, reason, retryAfter, timestamp } = answer;
  stream.respond({
    ":status": status,
    "content-type": "application/json",
    ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }),
  });
  stream.end(JSON.stringify({ reason, timestamp }));
}

/** Apple's check: `bearer <ES256 JWT>` with our key id, issued by our team. */
function isValidProviderToken(
  authorization: string,
  expected: FakeApnsOptions,
): boolean {
  const [, jwt = ""] = /^bearer (\S+)$/.exec(authorization) ?? [];
  const [header = "", claims = "", signature = ""] = jwt.split(".");
  type Fields = { alg?: unknown; kid?: unknown; iss?: unknown; iat?: unknown };
  const decode = (part: string) =>
    (parseJson(Buffer.from(part, "base64url")) ?? {}) as Fields;
  const { alg, kid } = decode(header);
  const { iss, iat } = decode(claims);
  if (alg !== "ES256" || kid !== expected.keyId) return false;
  if (iss !== expected.teamId || typeof iat !== "number") return false;
  try {
    return verify(
      "sha256",
      Buffer.from(`${header}.${claims}`),
      // JWS carries ECDSA signatures as r‖s, not DER.
      { key: expected.publicKey, dsaEncoding: "ieee-p1363" },
      Buffer.from(signature, "base64url"),
    );
  } catch {
    return false;
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
