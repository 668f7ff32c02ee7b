import { randomUUID } from "node:crypto";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Push, PushProvider } from "../../src/providers/provider.ts";
import {
  createWebPushProvider,
  DEFAULT_TTL_SECONDS,
  topicOf,
} from "../../src/providers/webpush.provider.ts";
import {
  startFakeWebPush,
  type FakeSubscription,
  type FakeWebPush,
} from "../support/fake-webpush.ts";
import { sendUntilSent } from "../support/send-until-sent.ts";
import { testCertificates } from "../support/test-ca.ts";

const NOW = new Date("2030-01-01T12:00:00Z");
const SUBJECT = "mailto:ops@nudge.example";
const vapid = webpush.generateVAPIDKeys();

let fake: FakeWebPush;
let provider: PushProvider;

beforeAll(async () => {
  fake = await startFakeWebPush();
  provider = providerWith({});
});

afterAll(async () => {
  await provider.close();
  await fake.close();
});

function providerWith(
  options: Partial<Parameters<typeof createWebPushProvider>[0]>,
): PushProvider {
  return createWebPushProvider({
    vapidPublicKey: vapid.publicKey,
    vapidPrivateKey: vapid.privateKey,
    vapidSubject: SUBJECT,
    ca: testCertificates().ca,
    clock: () => NOW,
    ...options,
  });
}

function pushTo(
  subscription: FakeSubscription | Record<string, unknown> | null,
  overrides: Partial<Push> = {},
): Push {
  return {
    notificationId: randomUUID(),
    userId: "ada",
    deviceId: "d1",
    platform: "webpush",
    token:
      typeof subscription?.endpoint === "string" ? subscription.endpoint : "",
    subscription,
    title: "Price drop",
    body: "The lamp you saved is now €39",
    deepLink: "https://shop.example/product/1",
    image: "https://shop.example/lamp.jpg",
    sound: undefined,
    badge: undefined,
    data: { product_id: "1" },
    threadId: "price-drop",
    expiresAt: undefined,
    ...overrides,
  };
}

const TIMED_OUT = {
  kind: "retry",
  reason: "push service timed out",
  cause: "connection",
};

function idOf(subscription: FakeSubscription): string {
  return subscription.endpoint.slice(
    subscription.endpoint.lastIndexOf("/") + 1,
  );
}

describe("webpush provider", () => {
  it("when a push is sent, then the endpoint verifies VAPID and decrypts the payload", async () => {
    const subscription = fake.subscribe({ vapidKey: vapid.publicKey });
    const push = pushTo(subscription, {
      expiresAt: new Date(NOW.getTime() + 3600_000),
    });

    const outcome = await provider.send(push);

    expect(outcome).toMatchObject({ kind: "sent" });
    expect(outcome.kind === "sent" && outcome.providerMessageId).toMatch(
      `${fake.origin}/message/`,
    );
    const received = fake.received.find(
      (r) => r.subscriptionId === idOf(subscription),
    );
    expect(received).toMatchObject({
      payload: {
        title: "Price drop",
        body: "The lamp you saved is now €39",
        image: "https://shop.example/lamp.jpg",
        tag: "price-drop",
        data: {
          product_id: "1",
          nudge_id: push.notificationId,
          deep_link: "https://shop.example/product/1",
        },
      },
      ttl: 3600,
      urgency: "high",
      topic: push.notificationId.replaceAll("-", ""),
      vapid: { audience: fake.origin, subject: SUBJECT, key: vapid.publicKey },
    });
  });

  it("when a push is silent, then the service worker gets the data without a notification, at normal urgency", async () => {
    const subscription = fake.subscribe({ vapidKey: vapid.publicKey });
    const push = pushTo(subscription, { silent: true });

    expect(await provider.send(push)).toMatchObject({ kind: "sent" });

    const received = fake.received.find(
      (r) => r.subscriptionId === idOf(subscription),
    );
    expect(received).toMatchObject({
      payload: {
        silent: true,
        data: {
          product_id: "1",
          nudge_id: push.notificationId,
          deep_link: "https://shop.example/product/1",
        },
      },
      urgency: "normal",
    });
    expect(received?.payload).not.toHaveProperty("title");
  });

  it("when pushes go to one push service, then one VAPID token signs them until an hour before it expires", async () => {
    const signer = providerWith({});
    const subscriptions = [
      fake.subscribe(),
      fake.subscribe(),
      fake.subscribe(),
    ];
    const tokenOf = (subscription: FakeSubscription) =>
      fake.received.find((r) => r.subscriptionId === idOf(subscription))?.vapid;
    try {
      vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
      const [first, second, third] = subscriptions;
      if (!first || !second || !third) throw new Error("three subscriptions");
      await signer.send(pushTo(first));
      vi.setSystemTime(Date.now() + 10 * 3600_000);
      await signer.send(pushTo(second));
      expect(tokenOf(second)?.token).toBe(tokenOf(first)?.token);
      // Eleven hours and a bit in: less than an hour left, so a new token.
      vi.setSystemTime(Date.now() + 3600_000 + 1000);
      await signer.send(pushTo(third));
      expect(tokenOf(third)?.token).not.toBe(tokenOf(first)?.token);
      expect(tokenOf(third)?.expiresAt).toBeGreaterThan(
        (tokenOf(first)?.expiresAt ?? 0) + 11 * 3600,
      );
    } finally {
      vi.useRealTimers();
      await signer.close();
    }
  });

  it("when the push has no expiry, then it asks the service to keep it four weeks", async () => {
    const subscription = fake.subscribe();

    await provider.send(pushTo(subscription));

    const received = fake.received.find(
      (r) => r.subscriptionId === idOf(subscription),
    );
    expect(received?.ttl).toBe(DEFAULT_TTL_SECONDS);
  });

  it("when the push expired already, then it is not sent", async () => {
    const before = fake.requestCount();
    const outcome = await provider.send(
      pushTo(fake.subscribe(), { expiresAt: new Date(NOW.getTime() - 1) }),
    );
    expect(outcome).toMatchObject({ kind: "permanent" });
    expect(fake.requestCount()).toBe(before);
  });

  it.each([
    ["missing", null],
    ["without keys", { endpoint: "https://127.0.0.1:1/push/x" }],
    [
      "with a short auth",
      {
        endpoint: "https://127.0.0.1:1/push/x",
        keys: { p256dh: "BA", auth: "AA" },
      },
    ],
    [
      "with an http endpoint",
      {
        endpoint: "http://127.0.0.1:1/push/x",
        keys: { p256dh: "x", auth: "y" },
      },
    ],
  ])(
    "when the subscription is %s, then the token is invalid",
    async (_, subscription) => {
      const outcome = await provider.send(pushTo(subscription));
      expect(outcome).toEqual({
        kind: "invalid_token",
        reason: "malformed subscription",
      });
    },
  );

  it.each([404, 410])(
    "when the service answers %i, then the subscription is dead",
    async (status) => {
      const subscription = fake.subscribe();
      fake.failSubscription(subscription.endpoint, { status });

      const outcome = await provider.send(pushTo(subscription));

      expect(outcome).toMatchObject({ kind: "invalid_token" });
    },
  );

  it.each([
    ["120", 120_000],
    ["Tue, 01 Jan 2030 12:00:30 GMT", 30_000],
  ])(
    "when the service answers 429 with Retry-After %s, then it retries after it",
    async (retryAfter, ms) => {
      const subscription = fake.subscribe();
      fake.failSubscription(subscription.endpoint, { status: 429, retryAfter });

      const outcome = await provider.send(pushTo(subscription));

      expect(outcome).toMatchObject({
        kind: "retry",
        cause: "server",
        retryAfterMs: ms,
      });
    },
  );

  it.each([500, 503])(
    "when the service answers %i, then it retries",
    async (status) => {
      const subscription = fake.subscribe();
      fake.failSubscription(subscription.endpoint, { status });

      const outcome = await provider.send(pushTo(subscription));

      expect(outcome).toMatchObject({ kind: "retry", cause: "server" });
      expect(outcome).not.toHaveProperty("retryAfterMs");
    },
  );

  it("when the next request fails, then only that one is retried", async () => {
    const subscription = fake.subscribe();
    fake.failNext(1, { status: 502 });

    expect(await provider.send(pushTo(subscription))).toMatchObject({
      kind: "retry",
    });
    expect(await provider.send(pushTo(subscription))).toMatchObject({
      kind: "sent",
    });
  });

  it("when the service answers 413, then the push fails for good", async () => {
    const subscription = fake.subscribe();
    fake.failSubscription(subscription.endpoint, { status: 413 });

    const outcome = await provider.send(pushTo(subscription));

    expect(outcome).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("payload too large"),
    });
  });

  it("when the payload exceeds one record, then it fails for good without a request", async () => {
    const before = fake.requestCount();
    const outcome = await provider.send(
      pushTo(fake.subscribe(), { body: "x".repeat(4000) }),
    );
    expect(outcome).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("payload too large"),
    });
    expect(fake.requestCount()).toBe(before);
  });

  it("when the browser subscribed with other VAPID keys, then the push fails for good", async () => {
    const subscription = fake.subscribe({
      vapidKey: webpush.generateVAPIDKeys().publicKey,
    });

    const outcome = await provider.send(pushTo(subscription));

    expect(outcome).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("VAPID"),
    });
    expect(fake.rejections).toContain(
      "vapid key differs from the subscription's",
    );
  });

  it("when the connection is reset, then it retries", async () => {
    const subscription = fake.subscribe();
    fake.failSubscription(subscription.endpoint, { destroy: true });

    const outcome = await provider.send(pushTo(subscription));

    expect(outcome).toMatchObject({ kind: "retry", cause: "connection" });
  });

  it("when the service does not answer in time, then it retries", async () => {
    const impatient = providerWith({ timeoutMs: 100 });
    const subscription = fake.subscribe();
    fake.failSubscription(subscription.endpoint, { hang: true });

    const outcome = await impatient.send(pushTo(subscription));

    expect(outcome).toEqual(TIMED_OUT);
    await impatient.close();
  });

  it("when pushes go to two push services, then each is a service of its own", () => {
    const [chrome, firefox] = [
      "https://fcm.googleapis.com/fcm/send/abc",
      "https://updates.push.services.mozilla.com/wpush/v2/def",
    ].map((endpoint) => provider.serviceOf?.(pushTo({ endpoint, keys: {} })));

    expect([chrome, firefox]).toEqual([
      "https://fcm.googleapis.com",
      "https://updates.push.services.mozilla.com",
    ]);
  });

  it("when 1,000 pushes are sent at once, then every one is delivered", async () => {
    const subscriptions = Array.from({ length: 50 }, () => fake.subscribe());
    const before = fake.received.length;
    const pushes = Array.from({ length: 1000 }, (_, i) =>
      pushTo(subscriptions[i % subscriptions.length] ?? null, {
        data: { index: String(i) },
      }),
    );

    const outcomes = await Promise.all(pushes.map((p) => provider.send(p)));

    expect(outcomes.filter((o) => o.kind === "sent")).toHaveLength(1000);
    await fake.waitForReceived(before + 1000);
    const indexes = fake.received
      .slice(before)
      .map((r: any) => Number(r.payload.data.index));
    expect(new Set(indexes).size).toBe(1000);
  });
});

describe("topicOf", () => {
  it("when the id is a UUID, then the topic is its 32 hex digits", () => {
    expect(topicOf("0b6d3f52-6f0e-4c1e-9a43-52a1f3c2d001")).toBe(
      "0b6d3f526f0e4c1e9a4352a1f3c2d001",
    );
  });

  it("when the id is longer, then it is hashed to 32 URL-safe characters", () => {
    expect(topicOf("x".repeat(40))).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});

describe("webpush provider: a push service that stops answering", () => {
  it("when the push service hangs and then recovers, then the hung requests free their sockets and the next push is sent", async () => {
    const service = await startFakeWebPush();
    // One socket: a request that pinned it would hold every later one back.
    const own = providerWith({ timeoutMs: 200, maxSockets: 1 });
    try {
      const subscription = service.subscribe();
      expect((await own.send(pushTo(subscription))).kind).toBe("sent");

      service.stall();
      const stalled = await Promise.all(
        [1, 2, 3].map(() => own.send(pushTo(subscription))),
      );
      service.recover();
      const recovery = await sendUntilSent(
        () => own.send(pushTo(subscription)),
        5_000,
      );

      expect(stalled).toEqual(Array(3).fill(TIMED_OUT));
      expect(recovery.outcomes.map((o) => o.kind)).toEqual(["sent"]);
      expect(recovery.ms).toBeLessThan(1_000);
    } finally {
      await own.close();
      await service.close();
    }
  });
});
