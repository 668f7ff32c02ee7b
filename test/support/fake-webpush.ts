import {
  createECDH,
  createPublicKey,
  randomBytes,
  randomUUID,
  verify,
  type ECDH,
  type KeyObject,
} from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createRequire } from "node:module";
import { testCertificates } from "./test-ca.ts";

// http_ece ships no types: the one function the fake uses, typed here.
const ece = createRequire(import.meta.url)("http_ece") as {
  decrypt(
    body: Buffer,
    params: { version: "aes128gcm"; privateKey: ECDH; authSecret: string },
  ): Buffer;
};

/** What a browser's `PushSubscription.toJSON()` gives the application server. */
export type FakeSubscription = {
  endpoint: string;
  keys: { p256dh: string; auth: string };
};

/** A scripted answer instead of 201: a status (with Retry-After), a hang, or a reset. */
export type FakeFailure =
  | { status: number; retryAfter?: string; body?: string }
  | { hang: true }
  | { destroy: true };

/** A push the fake accepted: VAPID verified and the body decrypted. */
export type ReceivedPush = {
  subscriptionId: string;
  /** The decrypted body, parsed as JSON. */
  payload: unknown;
  ttl: number;
  urgency: string | undefined;
  topic: string | undefined;
  vapid: {
    audience: string;
    subject: string;
    expiresAt: number;
    key: string;
    /** The signed JWT itself: ECDSA signatures differ each time one is signed. */
    token: string;
  };
};

export type FakeWebPush = {
  /** `https://127.0.0.1:<port>`: the VAPID audience of every endpoint. */
  origin: string;
  /** A new subscription; with `vapidKey`, pushes signed by another key get 403. */
  subscribe(options?: { vapidKey?: string }): FakeSubscription;
  received: ReceivedPush[];
  /** Every POST the fake answered or dropped, accepted or not. */
  requestCount(): number;
  /** Why requests were refused (bad VAPID, bad body…), for assertions. */
  rejections: string[];
  /** The next `count` requests, to any subscription, get `failure`. */
  failNext(count: number, failure: FakeFailure): void;
  /** Every request to this subscription gets `failure`. */
  failSubscription(endpoint: string, failure: FakeFailure): void;
  /**
   * Stops answering, like a push service that accepts connections but no longer
   * serves them: requests on the connections open now, or opened before `recover()`,
   * are never answered, and those connections stay silent for good.
   */
  stall(): void;
  /** Serves the connections opened from now on. */
  recover(): void;
  /** Resolves once `count` pushes were accepted in all. */
  waitForReceived(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
};

/** RFC 8030 §5.3: the only values of the Urgency header. */
const URGENCIES = ["very-low", "low", "normal", "high"];

type Subscriber = { ecdh: ECDH; auth: string; vapidKey: string | undefined };

/** A Web Push endpoint (RFC 8030/8291/8292) on 127.0.0.1, served with the test CA. */
export async function startFakeWebPush(): Promise<FakeWebPush> {
  const subscribers = new Map<string, Subscriber>();
  const scripted = new Map<string, FakeFailure>();
  const next: FakeFailure[] = [];
  const received: ReceivedPush[] = [];
  const rejections: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let requests = 0;
  let stalled = false;
  const live = new Set<Socket>();
  const silent = new WeakSet<Socket>();

  const { cert, key } = testCertificates();
  const server: Server = createServer({ cert, key }, (req, res) => {
    requests += 1;
    if (silent.has(req.socket)) return;
    const body: Buffer[] = [];
    req.on("data", (chunk: Buffer) => body.push(chunk));
    req.on("end", () => {
      answer(req, res, Buffer.concat(body));
    });
  });
  server.on("secureConnection", (socket: Socket) => {
    live.add(socket);
    socket.on("close", () => live.delete(socket));
    if (stalled) silent.add(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const id = /^\/push\/([\w-]+)$/.exec(req.url ?? "")?.[1] ?? "";
    const failure = next.shift() ?? scripted.get(id);
    if (failure !== undefined) {
      fail(res, failure);
      return;
    }
    const push = accept(req, id, body);
    if ("refused" in push) {
      rejections.push(push.refused);
      res.writeHead(push.status, { "content-type": "text/plain" });
      res.end(push.refused);
      return;
    }
    received.push(push);
    res.writeHead(201, { location: `${origin}/message/${randomUUID()}` });
    res.end();
    for (const waiter of waiters.filter((w) => received.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };

  /** What a push service checks before it queues a message (RFC 8030, 8291, 8292). */
  const accept = (
    req: IncomingMessage,
    id: string,
    body: Buffer,
  ): ReceivedPush | { status: number; refused: string } => {
    const subscriber = subscribers.get(id);
    if (req.method !== "POST" || subscriber === undefined)
      return { status: 404, refused: "no such subscription" };
    const vapid = verifyVapid(header(req, "authorization"), subscriber, origin);
    if (typeof vapid === "string") return { status: 403, refused: vapid };
    const ttl = header(req, "ttl") ?? "";
    if (!/^\d+$/.test(ttl)) return { status: 400, refused: "missing TTL" };
    const urgency = header(req, "urgency");
    if (urgency !== undefined && !URGENCIES.includes(urgency))
      return { status: 400, refused: `bad urgency ${urgency}` };
    if (header(req, "content-encoding") !== "aes128gcm")
      return { status: 400, refused: "not aes128gcm" };
    let payload: unknown;
    try {
      const plain = ece.decrypt(body, {
        version: "aes128gcm",
        privateKey: subscriber.ecdh,
        authSecret: subscriber.auth,
      });
      payload = JSON.parse(plain.toString("utf8"));
    } catch (error) {
      return { status: 400, refused: `undecryptable body: ${String(error)}` };
    }
    const unshowable = notificationProblem(payload);
    if (unshowable !== undefined) return { status: 400, refused: unshowable };
    return {
      subscriptionId: id,
      payload,
      ttl: Number(ttl),
      urgency: header(req, "urgency"),
      topic: header(req, "topic"),
      vapid,
    };
  };

  return {
    origin,
    subscribe(options = {}) {
      const id = randomUUID();
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = randomBytes(16).toString("base64url");
      subscribers.set(id, { ecdh, auth, vapidKey: options.vapidKey });
      return {
        endpoint: `${origin}/push/${id}`,
        keys: { p256dh: ecdh.getPublicKey("base64url"), auth },
      };
    },
    received,
    requestCount: () => requests,
    rejections,
    failNext(count, failure) {
      for (let i = 0; i < count; i += 1) next.push(failure);
    },
    failSubscription(endpoint, failure) {
      scripted.set(endpoint.slice(endpoint.lastIndexOf("/") + 1), failure);
    },
    stall() {
      stalled = true;
      for (const socket of live) silent.add(socket);
    },
    recover() {
      stalled = false;
    },
    waitForReceived(count, timeoutMs = 10_000) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${received.length} of ${count} pushes received`));
        }, timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async close() {
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * What would make the service worker's `showNotification(title, options)` throw, per
 * the Notifications API: each action needs a string `action` and `title`; `icon`,
 * `badge` and `tag` are strings, `requireInteraction` a boolean. A push
 * service never sees the plaintext; the fake, which decrypts it, stands in for the
 * browser.
 */
function notificationProblem(payload: unknown): string | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const options = payload as Record<string, unknown>;
  const text = ["icon", "badge", "tag"].find(
    (key) => key in options && typeof options[key] !== "string",
  );
  if (text !== undefined) return `${text} is not a string`;
  if ("requireInteraction" in options)
    if (typeof options.requireInteraction !== "boolean")
      return "requireInteraction is not a boolean";
  const { actions } = options;
  if (actions === undefined) return undefined;
  const valid =
    Array.isArray(actions) &&
    actions.every(
      (a: unknown) =>
        typeof a === "object" &&
        a !== null &&
        typeof (a as { action?: unknown }).action === "string" &&
        typeof (a as { title?: unknown }).title === "string",
    );
  return valid ? undefined : "actions are not [{action, title}]";
}

function fail(res: ServerResponse, failure: FakeFailure): void {
  if ("destroy" in failure) {
    res.socket?.destroy();
  } else if ("status" in failure) {
    const headers: Record<string, string> = { "content-type": "text/plain" };
    if (failure.retryAfter !== undefined)
      headers["retry-after"] = failure.retryAfter;
    res.writeHead(failure.status, headers);
    res.end(failure.body ?? "");
  }
  // A hang is never answered: the client's timeout, or close(), ends it.
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}

const publicKeys = new Map<string, KeyObject>();

/** Checks `vapid t=<jwt>, k=<key>` (RFC 8292); returns the claims or why it failed. */
function verifyVapid(
  authorization: string | undefined,
  subscriber: Subscriber,
  origin: string,
): ReceivedPush["vapid"] | string {
  const match = /^vapid t=(([\w-]+)\.([\w-]+))\.([\w-]+), k=([\w-]+)$/.exec(
    authorization ?? "",
  );
  if (match === null) return "no vapid authorization";
  const [, signed = "", head = "", claims = "", signature = "", k = ""] = match;
  if (subscriber.vapidKey !== undefined && subscriber.vapidKey !== k)
    return "vapid key differs from the subscription's";
  try {
    const key = publicKeys.get(k) ?? vapidPublicKey(k);
    publicKeys.set(k, key);
    const valid = verify(
      "sha256",
      Buffer.from(signed),
      { key, dsaEncoding: "ieee-p1363" },
      Buffer.from(signature, "base64url"),
    );
    if (!valid) return "vapid signature does not verify";
    const { alg } = decodeJson(head);
    const { aud, exp, sub } = decodeJson(claims);
    if (alg !== "ES256") return "vapid alg is not ES256";
    if (aud !== origin) return "vapid aud is not this origin";
    if (typeof exp !== "number" || exp * 1000 <= Date.now())
      return "vapid token expired";
    if (typeof sub !== "string" || sub === "") return "vapid sub missing";
    return {
      audience: origin,
      subject: sub,
      expiresAt: exp,
      key: k,
      token: `${signed}.${signature}`,
    };
  } catch (error) {
    return `malformed vapid token: ${String(error)}`;
  }
}

/** The VAPID key `k`: an uncompressed P-256 point (65 bytes). */
function vapidPublicKey(k: string): KeyObject {
  const point = Buffer.from(k, "base64url");
  if (point.length !== 65 || point[0] !== 4)
    throw new Error("not a P-256 point");
  const [x, y] = [point.subarray(1, 33), point.subarray(33)];
  return createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: x.toString("base64url"),
      y: y.toString("base64url"),
    },
    format: "jwk",
  });
}

function decodeJson(part: string): Partial<Record<string, unknown>> {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
}
