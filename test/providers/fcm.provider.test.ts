import { generateKeyPairSync, randomUUID } from "node:crypto";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createFcmProvider,
  type FcmProviderOptions,
} from "../../src/providers/fcm.provider.ts";
import {
  retryAfterMs,
  type Push,
  type PushProvider,
} from "../../src/providers/provider.ts";
import { startFakeFcm, type FakeFcm } from "../support/fake-fcm.ts";
import { sendUntilSent } from "../support/send-until-sent.ts";
import { startSilentRelay } from "../support/silent-relay.ts";
import { testCertificates } from "../support/test-ca.ts";

const NOW = new Date("2030-01-01T12:00:00Z");

let fake: FakeFcm;
let provider: PushProvider;

beforeAll(async () => {
  fake = await startFakeFcm();
  provider = await providerWith({});
});

afterAll(async () => {
  await provider.close();
  await fake.close();
});

function providerWith(
  options: Partial<FcmProviderOptions>,
): Promise<PushProvider> {
  return createFcmProvider({
    baseUrl: fake.origin,
    projectId: fake.projectId,
    accessToken: fake.accessToken,
    ca: testCertificates().ca,
    clock: () => NOW,
    ...options,
  });
}

function pushTo(token: string, overrides: Partial<Push> = {}): Push {
  return {
    notificationId: randomUUID(),
    userId: "ada",
    deviceId: "d1",
    platform: "fcm",
    token,
    subscription: null,
    title: "Price drop",
    body: "The lamp you saved is now €39",
    deepLink: "https://shop.example/product/1",
    image: "https://shop.example/lamp.jpg",
    sound: "default",
    badge: 3,
    data: { product_id: "1" },
    threadId: "price-drop",
    expiresAt: new Date(NOW.getTime() + 3600_000),
    ...overrides,
  };
}

function messageTo(token: string): any {
  return fake.received.find((r) => r.message.token === token)?.message;
}

/** A service account key made now, trusted by the fake's OAuth endpoint. */
function serviceAccountFor(fcm: FakeFcm) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const clientEmail = `nudge-${randomUUID()}@${fcm.projectId}.iam.gserviceaccount.com`;
  fcm.trustServiceAccount(clientEmail, publicKey);
  return {
    type: "service_account",
    project_id: fcm.projectId,
    private_key_id: randomUUID(),
    private_key: privateKey,
    client_email: clientEmail,
    client_id: "1",
    token_uri: "https://oauth2.googleapis.com/token",
  };
}

/**
 * Runs `run` with Google's token endpoint served by `fcm`. google-auth-library posts to
 * a hard-coded https://oauth2.googleapis.com/token (token_uri is not read) through
 * https.globalAgent (firebase-admin drops cert()'s agent), so the agent is swapped.
 */
async function withGoogleTokensFrom<T>(
  fcm: FakeFcm,
  run: () => Promise<T>,
): Promise<T> {
  const saved = https.globalAgent;
  https.globalAgent = fcm.tokenAgent();
  try {
    return await run();
  } finally {
    https.globalAgent.destroy();
    https.globalAgent = saved;
  }
}

describe("fcm provider", () => {
  it("when a push is sent, then FCM gets the v1 message with every field mapped", async () => {
    const token = randomUUID();
    const push = pushTo(token);
    const outcome = await provider.send(push);

    expect(outcome).toEqual({
      kind: "sent",
      providerMessageId: expect.stringMatching(
        /^projects\/nudge-test\/messages\/.+/,
      ),
    });
    expect(messageTo(token)).toEqual({
      token,
      notification: {
        title: "Price drop",
        body: "The lamp you saved is now €39",
        image: "https://shop.example/lamp.jpg",
      },
      data: {
        product_id: "1",
        nudge_id: push.notificationId,
        deep_link: "https://shop.example/product/1",
      },
      android: {
        collapse_key: push.notificationId,
        priority: "high",
        ttl: "3600s",
        notification: { tag: "price-drop", sound: "default" },
      },
      apns: {
        headers: {
          "apns-collapse-id": push.notificationId,
          "apns-expiration": String(NOW.getTime() / 1000 + 3600),
        },
        payload: {
          aps: {
            "thread-id": "price-drop",
            badge: 3,
            sound: "default",
            "mutable-content": 1,
          },
        },
      },
      webpush: {
        headers: { TTL: "3600" },
        fcm_options: { link: "https://shop.example/product/1" },
      },
    });
  });

  it("when a push has no expiry, image, sound, badge or https link, then those fields are left out", async () => {
    const token = randomUUID();
    const outcome = await provider.send(
      pushTo(token, {
        expiresAt: undefined,
        image: undefined,
        sound: undefined,
        badge: undefined,
        deepLink: "shop://product/1",
      }),
    );

    expect(outcome.kind).toBe("sent");
    const message = messageTo(token);
    expect(message.notification).toEqual({
      title: "Price drop",
      body: "The lamp you saved is now €39",
    });
    expect(message.data.deep_link).toBe("shop://product/1");
    expect(message.android.ttl).toBeUndefined();
    expect(message.android.notification).toEqual({ tag: "price-drop" });
    expect(message.apns.payload.aps).toEqual({ "thread-id": "price-drop" });
    expect(message.webpush).toEqual({});
  });

  it("when a push is silent, then FCM gets a data-only message, and iOS a background push at priority 5", async () => {
    const token = randomUUID();
    const push = pushTo(token, { silent: true, sound: "default", badge: 1 });

    expect(await provider.send(push)).toMatchObject({ kind: "sent" });

    expect(messageTo(token)).toEqual({
      token,
      data: {
        product_id: "1",
        nudge_id: push.notificationId,
        deep_link: push.deepLink,
      },
      android: {
        collapse_key: push.notificationId,
        priority: "normal",
        ttl: "3600s",
      },
      apns: {
        headers: {
          "apns-push-type": "background",
          "apns-priority": "5",
          "apns-collapse-id": push.notificationId,
          "apns-expiration": String(
            Math.floor((push.expiresAt as Date).getTime() / 1000),
          ),
        },
        payload: { aps: { "content-available": 1 } },
      },
      webpush: { headers: { TTL: "3600" } },
    });
  });

  it("when the push expired before it was sent, then it is permanent and FCM gets nothing", async () => {
    const before = fake.requestCount();
    const outcome = await provider.send(
      pushTo(randomUUID(), { expiresAt: new Date(NOW.getTime() - 1000) }),
    );
    expect(outcome).toEqual({
      kind: "permanent",
      reason: "expired before it was sent",
    });
    expect(fake.requestCount()).toBe(before);
  });

  it("when FCM says UNREGISTERED or not a valid registration token, then the token is invalid", async () => {
    const [gone, bogus] = [randomUUID(), randomUUID()];
    fake.failToken(gone, "UNREGISTERED");
    fake.failToken(bogus, "INVALID_ARGUMENT");

    expect(await provider.send(pushTo(gone))).toEqual({
      kind: "invalid_token",
      reason: expect.stringContaining("UNREGISTERED"),
    });
    expect(await provider.send(pushTo(bogus))).toEqual({
      kind: "invalid_token",
      reason: expect.stringContaining("not a valid FCM registration token"),
    });
  });

  it("when FCM rejects the payload, then it is permanent with FCM's message", async () => {
    const outcome = await provider.send(
      pushTo(randomUUID(), { data: { count: 12 as unknown as string } }),
    );
    expect(outcome).toEqual({
      kind: "permanent",
      reason: expect.stringMatching(
        /payload.*INVALID_ARGUMENT: Invalid value at 'message.data\[0\].value'/,
      ),
    });
  });

  it("when the token belongs to another sender, then it is permanent and says what to check", async () => {
    const token = randomUUID();
    fake.failToken(token, "SENDER_ID_MISMATCH");
    expect(await provider.send(pushTo(token))).toEqual({
      kind: "permanent",
      reason: expect.stringMatching(
        /another Firebase project.*SENDER_ID_MISMATCH/,
      ),
    });
  });

  it("when the credentials or the project are wrong, then the push waits for the credentials and says what to fix", async () => {
    const badToken = await providerWith({ accessToken: "not-a-token" });
    const otherProject = await providerWith({ projectId: "someone-else" });
    try {
      expect(await badToken.send(pushTo(randomUUID()))).toEqual({
        kind: "retry",
        reason: expect.stringMatching(/access token.*UNAUTHENTICATED/),
        cause: "credentials",
      });
      expect(await otherProject.send(pushTo(randomUUID()))).toEqual({
        kind: "retry",
        reason: expect.stringMatching(/check projectId.*PERMISSION_DENIED/),
        cause: "credentials",
      });
    } finally {
      await badToken.close();
      await otherProject.close();
    }
  });

  it("when FCM is over quota or failing, then it is a retry with Retry-After in ms", async () => {
    fake.failNext(1, "QUOTA_EXCEEDED", "30");
    expect(await provider.send(pushTo(randomUUID()))).toEqual({
      kind: "retry",
      reason: expect.stringContaining("QUOTA_EXCEEDED"),
      cause: "server",
      retryAfterMs: 30_000,
    });
    fake.failNext(1, "UNAVAILABLE", "Tue, 01 Jan 2030 12:01:00 GMT");
    expect(await provider.send(pushTo(randomUUID()))).toEqual({
      kind: "retry",
      reason: expect.stringContaining("UNAVAILABLE"),
      cause: "server",
      retryAfterMs: 60_000,
    });
    fake.failNext(1, "INTERNAL");
    expect(await provider.send(pushTo(randomUUID()))).toEqual({
      kind: "retry",
      reason: expect.stringContaining("INTERNAL"),
      cause: "server",
    });
  });

  it("when a stream is reset or the session destroyed, then it is a retry and the next send reconnects", async () => {
    fake.failNext(1, "reset");
    expect((await provider.send(pushTo(randomUUID()))).kind).toBe("retry");
    fake.failNext(1, "destroy");
    expect(await provider.send(pushTo(randomUUID()))).toEqual({
      kind: "retry",
      reason: expect.stringContaining("connection failed"),
      cause: "connection",
    });
    const sessions = fake.sessionCount();
    expect((await provider.send(pushTo(randomUUID()))).kind).toBe("sent");
    expect(fake.sessionCount()).toBe(sessions + 1);
  });

  it("when FCM closes the connection with a GOAWAY, then the send it answered is sent and the next goes on a new connection", async () => {
    fake.failNext(1, "goaway");
    const sessions = fake.sessionCount();
    expect((await provider.send(pushTo(randomUUID()))).kind).toBe("sent");
    expect((await provider.send(pushTo(randomUUID()))).kind).toBe("sent");
    expect(fake.sessionCount()).toBe(sessions + 1);
  });

  it("when FCM does not answer in time, then it is a retry and the next send goes on a new connection", async () => {
    const impatient = await providerWith({ timeoutMs: 100 });
    try {
      fake.failNext(1, "hang");
      const sessions = fake.sessionCount();
      expect(await impatient.send(pushTo(randomUUID()))).toEqual({
        kind: "retry",
        reason: "no answer within 100 ms",
        cause: "connection",
      });
      expect((await impatient.send(pushTo(randomUUID()))).kind).toBe("sent");
      expect(fake.sessionCount()).toBe(sessions + 2);
    } finally {
      await impatient.close();
    }
  });

  it("when sending with a service account, then firebase-admin's token is fetched once, shared, cached and refreshed before it expires", async () => {
    // 200 s tokens: google-auth-library hands out a new one on every ask (it refreshes
    // 5 minutes early), so each refresh the provider makes shows at the fake.
    const google = await startFakeFcm({ tokenLifetimeSeconds: 200 });
    let now = NOW.getTime();
    const viaAccount = await createFcmProvider({
      baseUrl: google.origin,
      serviceAccount: serviceAccountFor(google),
      ca: testCertificates().ca,
      clock: () => new Date(now),
    });
    try {
      await withGoogleTokensFrom(google, async () => {
        const first = await Promise.all(
          Array.from({ length: 20 }, () =>
            viaAccount.send(pushTo(randomUUID())),
          ),
        );
        expect(first.map((o) => o.kind)).toEqual(Array(20).fill("sent"));
        now += 90_000;
        expect((await viaAccount.send(pushTo(randomUUID()))).kind).toBe("sent");
        expect(google.tokenRequestCount()).toBe(1);

        now += 11_000; // past half its life, and within 2 minutes of expiry
        expect((await viaAccount.send(pushTo(randomUUID()))).kind).toBe("sent");
        expect(google.tokenRequestCount()).toBe(2);
      });
      expect(google.received).toHaveLength(22);
    } finally {
      await viaAccount.close();
      await google.close();
    }
  });

  it("when Google refuses the service account's key, then the push waits for the credentials", async () => {
    const untrusted = { ...serviceAccountFor(fake), client_email: "a@b.iam" };
    const viaAccount = await providerWith({
      accessToken: undefined,
      serviceAccount: untrusted,
    });
    try {
      const outcome = await withGoogleTokensFrom(fake, () =>
        viaAccount.send(pushTo(randomUUID())),
      );
      expect(outcome).toEqual({
        kind: "retry",
        reason: expect.stringMatching(/400 invalid_grant.*check its key/),
        cause: "credentials",
      });
    } finally {
      await viaAccount.close();
    }
  });

  it("when 2,000 pushes are sent 200 at a time, then all arrive over one connection", async () => {
    // 100 streams (the default) for 200 sends: the rest wait for a stream.
    const fast = await providerWith({});
    try {
      const sessionsBefore = fake.sessionCount();
      const receivedBefore = fake.received.length;
      const pushes = Array.from({ length: 2000 }, () => pushTo(randomUUID()));
      const kinds = new Map<string, number>();
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 200 }, async () => {
          while (next < pushes.length) {
            const push = pushes[next++] as Push;
            const { kind } = await fast.send(push);
            kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      console.info(`fcm: ${Math.round(2000 / seconds)} sends/s`);

      expect(Object.fromEntries(kinds)).toEqual({ sent: 2000 });
      expect(fake.received.length - receivedBefore).toBe(2000);
      expect(fake.sessionCount() - sessionsBefore).toBe(1);
    } finally {
      await fast.close();
    }
  });
});

describe("FCM provider: a connection that stops answering", () => {
  const timedOut = {
    kind: "retry",
    reason: "no answer within 200 ms",
    cause: "connection",
  };

  /** A provider of its own against an FCM of its own, which the test stalls. */
  async function withStallingFcm(
    body: (fcm: FakeFcm, own: PushProvider) => Promise<void>,
  ) {
    const fcm = await startFakeFcm();
    const own = await createFcmProvider({
      baseUrl: fcm.origin,
      projectId: fcm.projectId,
      accessToken: fcm.accessToken,
      ca: testCertificates().ca,
      timeoutMs: 200,
      clock: () => NOW,
    });
    try {
      await body(fcm, own);
    } finally {
      await own.close();
      await fcm.close();
    }
  }

  it("when FCM stops answering sends in flight and then recovers, then the next send goes on a new connection, without a new provider", async () => {
    await withStallingFcm(async (fcm, own) => {
      expect((await own.send(pushTo(randomUUID()))).kind).toBe("sent");

      fcm.stall();
      const inFlight = await Promise.all(
        [1, 2, 3].map(() => own.send(pushTo(randomUUID()))),
      );
      // A connection opened during the stall is no better.
      const later = await own.send(pushTo(randomUUID()));
      fcm.recover();
      const recovery = await sendUntilSent(
        () => own.send(pushTo(randomUUID())),
        5_000,
      );

      expect([...inFlight, later]).toEqual(Array(4).fill(timedOut));
      expect(recovery.outcomes.map((o) => o.kind)).toEqual(["sent"]);
      expect(recovery.ms).toBeLessThan(1_000);
      expect(fcm.sessionCount()).toBe(3);
    });
  });

  it("when the connection went silent while idle, then the first send after recovery times out and the next one is sent", async () => {
    await withStallingFcm(async (fcm, own) => {
      expect((await own.send(pushTo(randomUUID()))).kind).toBe("sent");

      fcm.stall();
      fcm.recover();
      const recovery = await sendUntilSent(
        () => own.send(pushTo(randomUUID())),
        5_000,
      );

      expect(recovery.outcomes).toEqual([
        timedOut,
        expect.objectContaining({ kind: "sent" }),
      ]);
      expect(recovery.ms).toBeLessThan(1_200);
    });
  });
});

describe("FCM provider: a path that loses every packet", () => {
  it("when the path goes silent while the connection is idle, then unanswered PINGs leave the connection and the first send after the path comes back is sent", async () => {
    const fcm = await startFakeFcm();
    const relay = await startSilentRelay(Number(new URL(fcm.origin).port));
    const own = await createFcmProvider({
      baseUrl: `https://127.0.0.1:${relay.port}`,
      projectId: fcm.projectId,
      accessToken: fcm.accessToken,
      ca: testCertificates().ca,
      timeoutMs: 200,
      keepAliveMs: 50,
      clock: () => NOW,
    });
    try {
      expect((await own.send(pushTo(randomUUID()))).kind).toBe("sent");

      relay.silence();
      // The provider leaves the connection without a send to tell it.
      await vi.waitFor(() => {
        expect(relay.connectionCount()).toBe(0);
      });
      relay.restore();

      expect((await own.send(pushTo(randomUUID()))).kind).toBe("sent");
    } finally {
      await own.close();
      await relay.close();
      await fcm.close();
    }
  });
});

describe("retryAfterMs", () => {
  it("when Retry-After is seconds, a date, or garbage, then it is ms, ms from now, or undefined", () => {
    expect(retryAfterMs("7", NOW)).toBe(7000);
    expect(retryAfterMs("Tue, 01 Jan 2030 11:00:00 GMT", NOW)).toBe(0);
    expect(retryAfterMs("soon", NOW)).toBeUndefined();
    expect(retryAfterMs(undefined, NOW)).toBeUndefined();
  });
});
