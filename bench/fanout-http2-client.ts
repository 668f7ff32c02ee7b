/**
 * The baseline of the fan-out benchmark: a bare node:http2 client sending the pushes of
 * the same audience straight to the same fake APNs and FCM, one connection to each and a
 * fixed number of streams in flight on each, as Nudge's lanes do by default. What it
 * cannot do faster is the machine's and the fakes' limit, not Nudge's. Started by
 * bench/fanout.ts with BENCH_FANOUT_CLIENT (ClientSettings as JSON); prints its figures
 * as one JSON line on stdout.
 */
import { createHash, randomUUID, sign } from "node:crypto";
import { once } from "node:events";
import {
  connect,
  type ClientHttp2Session,
  type OutgoingHttpHeaders,
} from "node:http2";
import { fcmMessageOf } from "../src/providers/fcm-message.ts";
import { pushData, type Push } from "../src/providers/provider.ts";
import { epochNow } from "./fanout-fakes-client.ts";
import { machineBusySeconds } from "./machine-load.ts";

export type ClientSettings = {
  users: number;
  ca: string;
  apnsPort: number;
  apnsKeyP8: string;
  apnsKeyId: string;
  apnsTeamId: string;
  apnsTopic: string;
  apnsStreams: number;
  fcmOrigin: string;
  fcmProjectId: string;
  fcmAccessToken: string;
  fcmStreams: number;
};

/** Requests sent per provider and how many were not answered 200. */
export type LaneRun = { requests: number; failed: number };

export type ClientRun = {
  /** Epoch ms before connecting: the start of the baseline's time. */
  startedAt: number;
  /** Epoch ms when the last answer came back. */
  finishedAt: number;
  apns: LaneRun;
  fcm: LaneRun;
  /** The client's own CPU during the run (user + system). */
  cpuSeconds: number;
  /** The whole machine's busy CPU during the run, when /proc/stat is readable. */
  machineCpuSeconds: number | undefined;
  maxRssBytes: number;
};

/** What the audience's SQL writes for user i (bench/fanout-audience.ts), in JS. */
const md5 = (text: string) => createHash("md5").update(text).digest("hex");
const FIRST_NAMES = ["Ana", "Bo", "Chloé", "Dev", "Emre", "Fumiko", "Grace"];
const TTL_SECONDS = 12 * 3600;
const RULE_ID = "wishlist-on-sale";
const PRODUCT = { id: "sku-42", name: "Aurora Desk Lamp", price: 19.99 };

/** User i's push, with the content Nudge renders for the sale (variant a). */
function pushOf(i: number, expiresAt: Date): Push {
  const apns = i % 2 === 0;
  const german = i % 3 === 0;
  const name =
    i % 5 === 0 ? undefined : `${FIRST_NAMES[i % 7] ?? ""}-${String(i)}`;
  return {
    notificationId: randomUUID(),
    userId: `user-${String(i).padStart(7, "0")}`,
    deviceId: `device-${String(i)}`,
    platform: apns ? "apns" : "fcm",
    token: apns
      ? md5(String(i)) + md5(`apns${String(i)}`)
      : `fcm-${md5(String(i))}:APA91b`,
    subscription: null,
    title: german
      ? `${PRODUCT.name} ist reduziert`
      : `${PRODUCT.name} is on sale`,
    body: german
      ? `Hallo ${name ?? "zusammen"}, jetzt ${String(PRODUCT.price)}`
      : `Hi ${name ?? "there"}, now ${String(PRODUCT.price)}`,
    deepLink: `shop://product/${PRODUCT.id}`,
    image: `https://img.example/${PRODUCT.id}.jpg`,
    sound: undefined,
    badge: undefined,
    data: {},
    threadId: RULE_ID,
    expiresAt,
  };
}

/** The provider token (ES256 JWT) Apple expects, made once as a client would per hour. */
function providerToken(settings: ClientSettings): string {
  const part = (value: object) =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "ES256", kid: settings.apnsKeyId })}.${part({
    iss: settings.apnsTeamId,
    iat: Math.floor(Date.now() / 1000),
  })}`;
  const signature = sign("sha256", Buffer.from(unsigned), {
    key: settings.apnsKeyP8,
    dsaEncoding: "ieee-p1363",
  });
  return `${unsigned}.${signature.toString("base64url")}`;
}

/** The headers and JSON body @parse/node-apn sends for a push. */
function apnsRequest(
  push: Push,
  settings: ClientSettings,
  jwt: string,
): [OutgoingHttpHeaders, string] {
  const headers = {
    ":method": "POST",
    ":path": `/3/device/${push.token}`,
    authorization: `bearer ${jwt}`,
    "apns-id": randomUUID(),
    "apns-topic": settings.apnsTopic,
    "apns-push-type": "alert",
    "apns-priority": "10",
    "apns-collapse-id": push.notificationId,
    "apns-expiration": String(
      Math.floor((push.expiresAt?.getTime() ?? 0) / 1000),
    ),
  };
  const body = JSON.stringify({
    ...pushData(push),
    image_url: push.image,
    aps: {
      alert: { title: push.title, body: push.body },
      "thread-id": push.threadId,
      "mutable-content": 1,
    },
  });
  return [headers, body];
}

/** The headers and JSON body of an FCM HTTP v1 send, as Nudge's FCM provider sends it. */
function fcmRequest(
  push: Push,
  settings: ClientSettings,
): [OutgoingHttpHeaders, string] {
  const headers = {
    ":method": "POST",
    ":path": `/v1/projects/${settings.fcmProjectId}/messages:send`,
    authorization: `Bearer ${settings.fcmAccessToken}`,
    "content-type": "application/json; charset=UTF-8",
  };
  return [
    headers,
    JSON.stringify({ message: fcmMessageOf(push, TTL_SECONDS) }),
  ];
}

/** One request on its own stream; resolves with the status once the answer is read. */
function request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let status = 0;
    stream.on("response", (answer) => {
      status = Number(answer[":status"]);
    });
    stream.on("data", () => undefined);
    stream.on("end", () => {
      resolve(status);
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

/** Sends `count` requests with `streams` of them in flight at any time. */
async function runLane(
  count: number,
  streams: number,
  send: (k: number) => Promise<number>,
): Promise<LaneRun> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      const k = next++;
      if ((await send(k)) !== 200) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(streams, count) }, worker));
  return { requests: count, failed };
}

async function connectTo(origin: string, ca: string) {
  const session = connect(origin, { ca });
  session.on("error", () => undefined);
  await once(session, "connect");
  return session;
}

async function main(): Promise<void> {
  const settings = JSON.parse(
    process.env.BENCH_FANOUT_CLIENT ?? "",
  ) as ClientSettings;
  const jwt = providerToken(settings);
  const expiresAt = new Date(Date.now() + TTL_SECONDS * 1000);
  const apnsCount = Math.floor(settings.users / 2);
  const fcmCount = settings.users - apnsCount;
  const machineBefore = await machineBusySeconds();
  const cpuBefore = process.cpuUsage();
  const startedAt = epochNow();
  const [apnsSession, fcmSession] = await Promise.all([
    connectTo(`https://127.0.0.1:${String(settings.apnsPort)}`, settings.ca),
    connectTo(settings.fcmOrigin, settings.ca),
  ]);
  // Even users have the iPhones, odd ones the Android phones, as in the audience.
  const [apns, fcm] = await Promise.all([
    runLane(apnsCount, settings.apnsStreams, (k) =>
      request(
        apnsSession,
        ...apnsRequest(pushOf(2 * (k + 1), expiresAt), settings, jwt),
      ),
    ),
    runLane(fcmCount, settings.fcmStreams, (k) =>
      request(
        fcmSession,
        ...fcmRequest(pushOf(2 * k + 1, expiresAt), settings),
      ),
    ),
  ]);
  const finishedAt = epochNow();
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = await machineBusySeconds();
  apnsSession.close();
  fcmSession.close();
  const run: ClientRun = {
    startedAt,
    finishedAt,
    apns,
    fcm,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    machineCpuSeconds:
      machineBefore === undefined || machineAfter === undefined
        ? undefined
        : machineAfter - machineBefore,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

await main();
