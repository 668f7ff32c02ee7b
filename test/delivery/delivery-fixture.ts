import webpush from "web-push";
import { afterAll, beforeAll, expect } from "vitest";
import { createApnsProvider } from "../../src/providers/apns.provider.ts";
import { createFcmProvider } from "../../src/providers/fcm.provider.ts";
import type { ProviderSet } from "../../src/providers/registry.ts";
import { createWebPushProvider } from "../../src/providers/webpush.provider.ts";
import {
  generateApnsSigningKey,
  startFakeApns,
  type FakeApns,
} from "../support/fake-apns.ts";
import { startFakeFcm, type FakeFcm } from "../support/fake-fcm.ts";
import {
  startFakeWebPush,
  type FakeSubscription,
  type FakeWebPush,
} from "../support/fake-webpush.ts";
import {
  useTestApp,
  type TestApp,
  type TestAppOptions,
} from "../support/test-app.ts";
import { testCertificates } from "../support/test-ca.ts";
import { apnsToken, fcmToken, uniqueId } from "../support/test-database.ts";

/** A rule that answers a `Ping` at once: no delay, no quiet hours, no caps. */
export const pingRules = {
  settings: { categories: { news: { default: "in" } } },
  rules: [
    {
      id: "ping",
      trigger: 'event = "Ping"',
      category: "news",
      delivery: { quietHours: false, ttl: "1h" },
      message: {
        title: "{{ event.properties.title }}",
        body: "Hello {{ profile.traits.first_name | default: 'you' }}",
        deepLink: "shop://ping/{{ event.properties.n }}",
        image: "{{ event.properties.image }}",
        sound: "default",
        badge: "3",
        data: { campaign: "ping-{{ event.properties.n }}" },
      },
    },
  ],
};

/** The users who saved a product, as a sale's audience. */
export const wishlist = {
  name: "wishlist",
  key: "properties.product_id",
  add: 'event = "Product Added to Wishlist"',
};

/** A sale for the savers of a product: a fan-out, planned page by page. */
export const saleRule = {
  id: "sale",
  trigger: 'event = "Product Updated" and properties.on_sale = true',
  audience: { collection: "wishlist", key: "properties.product_id" },
  category: "news",
  delivery: { quietHours: false, ttl: "1h" },
  message: {
    title: "{{ event.properties.name }} is on sale",
    body: "Hi {{ profile.traits.first_name | default: 'there' }}",
    deepLink: "shop://product/{{ event.properties.product_id }}",
  },
};

/** What registers a user's phone and sets off the ping rule for them: two Segment calls. */
export function pingCalls(user: {
  userId: string;
  platform: "ios" | "android";
  token: string;
}): object[] {
  return [
    {
      type: "identify",
      userId: user.userId,
      messageId: uniqueId("msg"),
      context: { device: { type: user.platform, token: user.token } },
    },
    {
      type: "track",
      event: "Ping",
      userId: user.userId,
      messageId: uniqueId("msg"),
      properties: { title: "Ping", n: 1 },
    },
  ];
}

export type Fakes = { apns: FakeApns; fcm: FakeFcm; webPush: FakeWebPush };

/**
 * One app per test file whose pushes go to fake APNs, FCM and Web Push servers through
 * the real providers, with the ping rules unless others are given. `providerTimeoutMs`:
 * how long the providers wait for an answer (default: theirs, 10 s).
 */
export function useDeliveryApp(
  options: TestAppOptions = {},
  { providerTimeoutMs }: { providerTimeoutMs?: number } = {},
) {
  let fakes: Fakes | undefined;
  const appOptions: TestAppOptions = { rules: pingRules, ...options };
  const closers: (() => Promise<void>)[] = [];
  // Registered before useTestApp's: the fakes exist when the app starts.
  beforeAll(async () => {
    const { ca } = testCertificates();
    const signing = generateApnsSigningKey();
    const team = { teamId: "TEAM123456", keyId: "KEY1234567" };
    const apns = await startFakeApns({ ...team, publicKey: signing.publicKey });
    const fcm = await startFakeFcm();
    const webPush = await startFakeWebPush();
    const vapid = webpush.generateVAPIDKeys();
    // The providers see the app's (test-controlled) time, as they would in Nudge.
    const clock = () => ctx.app.deps.clock();
    const providers: ProviderSet = {
      apns: createApnsProvider({
        key: signing.p8,
        ...team,
        topic: "com.example.shop",
        production: false,
        host: apns.host,
        port: apns.port,
        ca,
        clock,
        requestTimeoutMs: providerTimeoutMs,
      }),
      fcm: await createFcmProvider({
        projectId: fcm.projectId,
        accessToken: fcm.accessToken,
        baseUrl: fcm.origin,
        ca,
        clock,
        timeoutMs: providerTimeoutMs,
      }),
      webpush: createWebPushProvider({
        vapidPublicKey: vapid.publicKey,
        vapidPrivateKey: vapid.privateKey,
        vapidSubject: "mailto:ops@example.com",
        ca,
        clock,
        timeoutMs: providerTimeoutMs,
      }),
    };
    appOptions.providers = providers;
    fakes = { apns, fcm, webPush };
    closers.push(
      ...Object.values(providers).map((p) => () => p.close()),
      () => apns.close(),
      () => fcm.close(),
      () => webPush.close(),
    );
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });
  const ctx = useTestApp(appOptions);

  return {
    get app() {
      return ctx.app;
    },
    get database() {
      return ctx.database;
    },
    get fakes(): Fakes {
      if (fakes === undefined) throw new Error("fakes start in beforeAll");
      return fakes;
    },

    /** A user with the given devices, registered through the admin API. */
    async userWith(...platforms: ("ios" | "android" | "web")[]) {
      const userId = uniqueId("user");
      const devices: {
        platform: string;
        token: string;
        subscription?: FakeSubscription;
      }[] = [];
      for (const platform of platforms) {
        const body =
          platform === "ios"
            ? { platform: "apns", token: apnsToken() }
            : platform === "android"
              ? { platform: "fcm", token: fcmToken() }
              : {
                  platform: "webpush",
                  subscription: this.fakes.webPush.subscribe(),
                };
        const response = await ctx.app.request(
          "POST",
          `/v1/users/${userId}/devices`,
          {
            body,
            admin: true,
          },
        );
        expect(response.status).toBe(201);
        devices.push({
          platform: body.platform,
          token:
            "token" in body ? (body.token ?? "") : body.subscription.endpoint,
          ...("subscription" in body && { subscription: body.subscription }),
        });
      }
      return { userId, devices };
    },

    /** Sends a Ping from the user and plans it: one pending notification. */
    async ping(userId: string, properties: Record<string, unknown> = {}) {
      const response = await ctx.app.request("POST", "/v1/segment", {
        body: {
          type: "track",
          event: "Ping",
          userId,
          messageId: uniqueId("msg"),
          properties: { title: "Ping", n: 1, ...properties },
        },
      });
      expect(response.status).toBe(200);
      await ctx.app.deps.planner.drain();
      return this.notificationOf(userId);
    },

    async notificationOf(userId: string) {
      return ctx.database.db
        .selectFrom("notifications")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at", "desc")
        .executeTakeFirstOrThrow();
    },

    async deliveriesOf(notificationId: string) {
      return ctx.database.db
        .selectFrom("deliveries")
        .selectAll()
        .where("notification_id", "=", notificationId)
        .orderBy("platform")
        .execute();
    },

    deliver: () => ctx.app.deps.delivery.drain(),
  };
}

/**
 * Posts one batch in which each of `count` new users registers an iPhone (with
 * `traits`) and then sends the call `then` makes for them; returns the users.
 */
export async function postIphoneUsers(
  app: TestApp,
  count: number,
  then: (userId: string) => Record<string, unknown>,
  traits: Record<string, unknown> = {},
): Promise<{ userId: string; token: string }[]> {
  const users = Array.from({ length: count }, () => ({
    userId: uniqueId("user"),
    token: apnsToken(),
  }));
  const response = await app.request("POST", "/v1/segment", {
    body: users.flatMap(({ userId, token }) => [
      {
        type: "identify",
        userId,
        messageId: uniqueId("msg"),
        traits,
        context: { device: { type: "ios", token } },
      },
      { userId, messageId: uniqueId("msg"), ...then(userId) },
    ]),
  });
  expect(response.status).toBe(200);
  return users;
}
