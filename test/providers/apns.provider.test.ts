import { randomBytes, randomUUID, sign } from "node:crypto";
import PQueue from "p-queue";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createApnsProvider,
  type ApnsProviderOptions,
} from "../../src/providers/apns.provider.ts";
import type { Push, PushProvider } from "../../src/providers/provider.ts";
import {
  generateApnsSigningKey,
  startFakeApns,
  type FakeApns,
  type FakeApnsAnswer,
} from "../support/fake-apns.ts";
import { sendUntilSent } from "../support/send-until-sent.ts";
import { startSilentRelay } from "../support/silent-relay.ts";
import { testCertificates } from "../support/test-ca.ts";

const teamId = "TEAM123456";
const keyId = "KEY7654321";
const topic = "com.example.shop";
const signingKey = generateApnsSigningKey();

let production: FakeApns;
let sandbox: FakeApns;
let provider: PushProvider;

beforeAll(async () => {
  const trusted = { teamId, keyId, publicKey: signingKey.publicKey };
  [production, sandbox] = await Promise.all([
    startFakeApns(trusted),
    startFakeApns(trusted),
  ]);
  provider = createApnsProvider(optionsFor(production));
});

afterAll(async () => {
  await provider.close();
  await Promise.all([production.close(), sandbox.close()]);
});

function optionsFor(
  fake: FakeApns,
  overrides: Partial<ApnsProviderOptions> = {},
): ApnsProviderOptions {
  return {
    key: signingKey.p8,
    keyId,
    teamId,
    topic,
    production: true,
    host: fake.host,
    port: fake.port,
    ca: testCertificates().ca,
    ...overrides,
  };
}

/** A provider for one test, closed when the test's body is done. */
async function withProvider<T>(
  options: ApnsProviderOptions,
  body: (provider: PushProvider) => Promise<T>,
): Promise<T> {
  const own = createApnsProvider(options);
  try {
    return await body(own);
  } finally {
    await own.close();
  }
}

const TIMED_OUT = {
  kind: "retry",
  reason: "no answer from APNs: apn write timeout",
  cause: "connection",
};

/** A provider token as node-apn signs it: ES256 over our key id and team. */
function signedToken(): string {
  const encode = (value: unknown) =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  const signed = `${encode({ alg: "ES256", kid: keyId })}.${encode({ iss: teamId, iat: Math.floor(Date.now() / 1000) })}`;
  const signature = sign("sha256", Buffer.from(signed), {
    key: signingKey.p8,
    dsaEncoding: "ieee-p1363",
  });
  return `${signed}.${signature.toString("base64url")}`;
}

function newToken(): string {
  return randomBytes(32).toString("hex");
}

function pushTo(token: string, fields: Partial<Push> = {}): Push {
  return {
    notificationId: randomUUID(),
    userId: "user-1",
    deviceId: randomUUID(),
    platform: "apns",
    token,
    subscription: null,
    title: "Price drop",
    body: "The boots you saved are now 20% off",
    deepLink: undefined,
    image: undefined,
    sound: undefined,
    badge: undefined,
    data: {},
    threadId: "rule-price-drop",
    expiresAt: undefined,
    ...fields,
  };
}

/** What the provider makes of `answer` from production, and how many requests it took. */
async function answeredWith(answer: FakeApnsAnswer) {
  const token = newToken();
  production.answerToken(token, answer);
  const before = production.requestCount();
  const outcome = await provider.send(pushTo(token));
  return { outcome, requests: production.requestCount() - before };
}

describe("APNs provider", () => {
  it("when APNs accepts a push, then it is sent with every header and payload field", async () => {
    const token = newToken();
    const expiresAt = new Date("2030-01-02T03:04:05.678Z");
    const push = pushTo(token, {
      deepLink: "shop://products/42",
      image: "https://cdn.example/boots.jpg",
      sound: "default",
      badge: 3,
      data: { product_id: "42" },
      expiresAt,
    });

    const outcome = await provider.send(push);

    const received = production.received.find((p) => p.token === token);
    expect(received).toEqual({
      token,
      topic,
      collapseId: push.notificationId,
      expiration: String(Math.floor(expiresAt.getTime() / 1000)),
      pushType: "alert",
      priority: "10",
      apnsId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      payload: {
        aps: {
          alert: { title: push.title, body: push.body },
          sound: "default",
          badge: 3,
          "thread-id": "rule-price-drop",
          "mutable-content": 1,
        },
        product_id: "42",
        nudge_id: push.notificationId,
        deep_link: "shop://products/42",
        image_url: "https://cdn.example/boots.jpg",
      },
    });
    expect(outcome).toEqual({
      kind: "sent",
      providerMessageId: received?.apnsId,
    });
  });

  it("when a push has no expiry, image, sound or badge, then it carries no apns-expiration (Apple stores it) and aps holds only the alert and thread", async () => {
    const token = newToken();
    const push = pushTo(token);

    expect(await provider.send(push)).toMatchObject({ kind: "sent" });

    const received = production.received.find((p) => p.token === token);
    expect(received?.expiration).toBeUndefined();
    expect(received?.payload).toEqual({
      aps: {
        alert: { title: push.title, body: push.body },
        "thread-id": push.threadId,
      },
      nudge_id: push.notificationId,
    });
  });

  it("when a push is silent, then it goes as a background push at priority 5 with content-available alone in aps", async () => {
    const token = newToken();
    const push = pushTo(token, {
      silent: true,
      sound: "default",
      badge: 2,
      data: { list: "wishlist" },
    });

    expect(await provider.send(push)).toMatchObject({ kind: "sent" });

    expect(production.received.find((p) => p.token === token)).toMatchObject({
      pushType: "background",
      priority: "5",
      collapseId: push.notificationId,
      payload: {
        list: "wishlist",
        nudge_id: push.notificationId,
        aps: { "content-available": 1 },
      },
    });
  });

  it("when a background push carries an alert or goes at priority 10, then the fake refuses it as Apple does", async () => {
    const client = await import("node:http2");
    const session = client.connect(
      `https://${production.host}:${production.port}`,
      {
        ca: testCertificates().ca,
      },
    );
    const post = (headers: Record<string, string>, payload: unknown) =>
      new Promise<string>((resolve) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `/3/device/${newToken()}`,
          "apns-topic": topic,
          authorization: `bearer ${signedToken()}`,
          ...headers,
        });
        let body = "";
        stream.on("data", (chunk: Buffer) => {
          body += chunk.toString();
        });
        stream.on("end", () => {
          resolve(body);
        });
        stream.end(JSON.stringify(payload));
      });
    try {
      const background = { "apns-push-type": "background" };
      expect(
        await post(
          { ...background, "apns-priority": "5" },
          { aps: { "content-available": 1, alert: "hi" } },
        ),
      ).toContain("InvalidPushType");
      expect(
        await post(
          { ...background, "apns-priority": "10" },
          { aps: { "content-available": 1 } },
        ),
      ).toContain("BadPriority");
    } finally {
      session.close();
    }
  });

  it("when APNs answers 410 Unregistered, then the token is invalid since that time", async () => {
    const { outcome } = await answeredWith({
      status: 410,
      reason: "Unregistered",
      timestamp: Date.parse("2025-06-01T00:00:00Z"),
    });

    expect(outcome).toEqual({
      kind: "invalid_token",
      reason: "Unregistered since 2025-06-01T00:00:00.000Z",
    });
  });

  it.each([
    { status: 400, reason: "BadDeviceToken" },
    { status: 400, reason: "DeviceTokenNotForTopic" },
    { status: 410, reason: "ExpiredToken" },
  ])(
    "when APNs answers $status $reason, then the token is invalid",
    async (answer) => {
      const { outcome } = await answeredWith(answer);

      expect(outcome).toEqual({ kind: "invalid_token", reason: answer.reason });
    },
  );

  /** One push through a provider with both environments on: production, then the sandbox. */
  const sendInBothEnvironments = (token: string) =>
    withProvider(
      optionsFor(production, {
        bothEnvironments: true,
        otherHost: sandbox.host,
        otherPort: sandbox.port,
      }),
      (both) => both.send(pushTo(token)),
    );

  it("when production calls a token BadDeviceToken and both environments are on, then the sandbox gets it", async () => {
    const token = newToken();
    production.answerToken(token, { status: 400, reason: "BadDeviceToken" });

    const outcome = await sendInBothEnvironments(token);

    expect(outcome).toMatchObject({ kind: "sent" });
    expect(sandbox.received.map((p) => p.token)).toContain(token);
  });

  it("when both environments call a token BadDeviceToken, then it is invalid", async () => {
    const token = newToken();
    production.answerToken(token, { status: 400, reason: "BadDeviceToken" });
    sandbox.answerToken(token, { status: 400, reason: "BadDeviceToken" });

    const outcome = await sendInBothEnvironments(token);

    expect(outcome).toEqual({
      kind: "invalid_token",
      reason: "BadDeviceToken in production and in the sandbox",
    });
  });

  it("when production answers Unregistered with both environments on, then the sandbox is not asked", async () => {
    const token = newToken();
    production.answerToken(token, { status: 410, reason: "Unregistered" });
    const before = sandbox.requestCount();

    const outcome = await sendInBothEnvironments(token);

    expect(outcome).toMatchObject({ kind: "invalid_token" });
    expect(sandbox.requestCount()).toBe(before);
  });

  it("when APNs answers 429 with retry-after in seconds, then it is retried after that long, by us alone", async () => {
    const { outcome, requests } = await answeredWith({
      status: 429,
      reason: "TooManyRequests",
      retryAfter: "7",
    });

    expect(outcome).toEqual({
      kind: "retry",
      reason: "APNs 429 TooManyRequests",
      cause: "server",
      retryAfterMs: 7000,
    });
    expect(requests).toBe(1);
  });

  it("when APNs answers 429 with retry-after as a date, then retryAfterMs counts from the clock", async () => {
    const token = newToken();
    production.answerToken(token, {
      status: 429,
      reason: "TooManyRequests",
      retryAfter: "Wed, 01 Jan 2031 00:01:30 GMT",
    });
    const clock = () => new Date("2031-01-01T00:00:00Z");

    const outcome = await withProvider(
      optionsFor(production, { clock }),
      (own) => own.send(pushTo(token)),
    );

    expect(outcome).toMatchObject({ kind: "retry", retryAfterMs: 90_000 });
  });

  it.each([
    { status: 500, reason: "InternalServerError", cause: "server" },
    { status: 503, reason: "ServiceUnavailable", cause: "server" },
    { status: 403, reason: "ExpiredProviderToken", cause: "credentials" },
  ])(
    "when APNs answers $status $reason, then it is retried once, later",
    async ({ cause, ...answer }) => {
      const { outcome, requests } = await answeredWith(answer);

      expect(outcome).toMatchObject({ kind: "retry", cause });
      expect(outcome).not.toHaveProperty("retryAfterMs");
      expect(requests).toBe(1);
    },
  );

  it("when APNs is unavailable for the next 2 requests, then those 2 are retried and the third is sent", async () => {
    production.answerNext(2, { status: 503, reason: "ServiceUnavailable" });

    const outcomes = [];
    for (let i = 0; i < 3; i += 1)
      outcomes.push(await provider.send(pushTo(newToken())));

    expect(outcomes.map((o) => o.kind)).toEqual(["retry", "retry", "sent"]);
  });

  it("when APNs resets the stream, then it is retried and the connection still serves", async () => {
    const { outcome } = await answeredWith({ resetStream: true });

    expect(outcome).toMatchObject({ kind: "retry" });
    expect(await provider.send(pushTo(newToken()))).toMatchObject({
      kind: "sent",
    });
  });

  it("when APNs drops the connection, then it is retried and the next push reconnects", async () => {
    const sessions = production.sessionCount();

    const { outcome } = await answeredWith({ destroySession: true });

    expect(outcome).toMatchObject({ kind: "retry" });
    expect(await provider.send(pushTo(newToken()))).toMatchObject({
      kind: "sent",
    });
    expect(production.sessionCount()).toBe(sessions + 1);
  });

  it("when APNs does not answer in time, then it is retried and the next push goes on a new connection", async () => {
    const token = newToken();
    production.answerToken(token, { hang: true });
    const sessions = production.sessionCount();

    const [outcome, next] = await withProvider(
      optionsFor(production, { requestTimeoutMs: 100 }),
      async (own) => [
        await own.send(pushTo(token)),
        await own.send(pushTo(newToken())),
      ],
    );

    expect(outcome).toEqual(TIMED_OUT);
    expect(next).toMatchObject({ kind: "sent" });
    expect(production.sessionCount()).toBe(sessions + 2);
  });

  it("when nothing listens at the address, then it is retried and close still returns", async () => {
    const gone = await startFakeApns({
      teamId,
      keyId,
      publicKey: signingKey.publicKey,
    });
    await gone.close();

    const outcome = await withProvider(optionsFor(gone), (own) =>
      own.send(pushTo(newToken())),
    );

    expect(outcome).toMatchObject({ kind: "retry" });
  });

  it("when the payload is over 4 KB, then it fails for good without a request and says what to shorten", async () => {
    const before = production.requestCount();
    const outcome = await provider.send(
      pushTo(newToken(), { body: "x".repeat(5000) }),
    );

    expect(outcome).toEqual({
      kind: "permanent",
      reason: expect.stringMatching(
        /^payload too large: 5130 bytes, APNs takes at most 4096: shorten the title, body or the rule.s data$/,
      ),
    });
    expect(production.requestCount()).toBe(before);
  });

  it("when the key is not the one Apple knows, then the push waits for the credentials and says to check the key", async () => {
    const stranger = generateApnsSigningKey();

    const outcome = await withProvider(
      optionsFor(production, { key: stranger.p8 }),
      (own) => own.send(pushTo(newToken())),
    );

    expect(outcome).toMatchObject({ kind: "retry", cause: "credentials" });
    expect(outcome).toHaveProperty(
      "reason",
      expect.stringContaining("InvalidProviderToken"),
    );
    expect(outcome).toHaveProperty(
      "reason",
      expect.stringContaining("key id and the team id"),
    );
  });

  it.each(["BadTopic", "TopicDisallowed", "MissingTopic"])(
    "when APNs answers %s, then it fails for good and says to check the topic",
    async (reason) => {
      const { outcome } = await answeredWith({ status: 400, reason });

      expect(outcome).toMatchObject({ kind: "permanent" });
      expect(outcome).toHaveProperty(
        "reason",
        expect.stringMatching(/bundle id/),
      );
    },
  );

  it("when the key is not a key at all, then creating the provider throws", () => {
    const key =
      "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----";

    expect(() => createApnsProvider(optionsFor(production, { key }))).toThrow(
      /token/,
    );
  });

  it("when the token is not hex, then it is invalid without asking APNs", async () => {
    const before = production.requestCount();

    const outcome = await provider.send(pushTo("not/a-token"));

    expect(outcome).toMatchObject({ kind: "invalid_token" });
    expect(production.requestCount()).toBe(before);
  });

  it("when the push expired before it was sent, then it fails for good without asking APNs", async () => {
    const before = production.requestCount();

    const outcome = await provider.send(
      pushTo(newToken(), { expiresAt: new Date(Date.now() - 1000) }),
    );

    expect(outcome).toEqual({
      kind: "permanent",
      reason: "expired before it was sent",
    });
    expect(production.requestCount()).toBe(before);
  });

  it("when 2,000 pushes are sent 200 at a time, then every one is delivered", async () => {
    const tokens = Array.from({ length: 2000 }, newToken);
    const queue = new PQueue({ concurrency: 200 });
    const accepted = production.received.length;

    const outcomes = await Promise.all(
      tokens.map((token) => queue.add(() => provider.send(pushTo(token)))),
    );

    expect(outcomes.filter((o) => o.kind !== "sent")).toEqual([]);
    await production.waitForPushes(accepted + tokens.length);
    const delivered = new Set(
      production.received.slice(accepted).map((p) => p.token),
    );
    expect(delivered).toEqual(new Set(tokens));
  });
});

describe("APNs provider: a connection that stops answering", () => {
  const timeoutMs = 200;

  /** A provider of its own against an APNs of its own, which the test stalls. */
  async function withStallingApns(
    body: (fake: FakeApns, own: PushProvider) => Promise<void>,
  ) {
    const fake = await startFakeApns({
      teamId,
      keyId,
      publicKey: signingKey.publicKey,
    });
    try {
      await withProvider(
        optionsFor(fake, { requestTimeoutMs: timeoutMs }),
        (own) => body(fake, own),
      );
    } finally {
      await fake.close();
    }
  }

  it("when APNs stops answering pushes in flight and then recovers, then the next push is sent on a new connection, without a new provider", async () => {
    await withStallingApns(async (fake, own) => {
      expect(await own.send(pushTo(newToken()))).toMatchObject({
        kind: "sent",
      });

      fake.stall();
      const inFlight = await Promise.all(
        [1, 2, 3].map(() => own.send(pushTo(newToken()))),
      );
      // A connection opened during the stall is no better.
      const later = await own.send(pushTo(newToken()));
      fake.recover();
      const recovery = await sendUntilSent(
        () => own.send(pushTo(newToken())),
        5_000,
      );

      expect([...inFlight, later]).toEqual(Array(4).fill(TIMED_OUT));
      expect(recovery.outcomes.map((o) => o.kind)).toEqual(["sent"]);
      expect(recovery.ms).toBeLessThan(1_000);
      expect(fake.sessionCount()).toBe(3);
    });
  });

  it("when the connection went silent while idle, then the first push after recovery times out and the next one is sent", async () => {
    await withStallingApns(async (fake, own) => {
      expect(await own.send(pushTo(newToken()))).toMatchObject({
        kind: "sent",
      });

      fake.stall();
      fake.recover();
      const recovery = await sendUntilSent(
        () => own.send(pushTo(newToken())),
        5_000,
      );

      expect(recovery.outcomes).toEqual([
        TIMED_OUT,
        expect.objectContaining({ kind: "sent" }),
      ]);
      expect(recovery.ms).toBeLessThan(timeoutMs + 1_000);
    });
  });

  it("when the path to APNs loses every packet while the connection is idle, then a PING finds the connection dead and the first push after the path comes back is sent", async () => {
    const fake = await startFakeApns({
      teamId,
      keyId,
      publicKey: signingKey.publicKey,
    });
    const relay = await startSilentRelay(fake.port);
    try {
      await withProvider(
        optionsFor(fake, {
          port: relay.port,
          requestTimeoutMs: timeoutMs,
          keepAliveMs: 50,
        }),
        async (own) => {
          expect(await own.send(pushTo(newToken()))).toMatchObject({
            kind: "sent",
          });

          relay.silence();
          // The provider leaves the connection without a push to tell it.
          await vi.waitFor(() => {
            expect(relay.connectionCount()).toBe(0);
          });
          relay.restore();

          expect(await own.send(pushTo(newToken()))).toMatchObject({
            kind: "sent",
          });
        },
      );
    } finally {
      await relay.close();
      await fake.close();
    }
  });
});
