import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFcmProvider } from "../../src/providers/fcm.provider.ts";
import type { Push, PushProvider } from "../../src/providers/provider.ts";
import { pushMessageOf } from "../../src/providers/push-content.ts";
import type { JsonObject } from "../../src/vocabulary.ts";
import { startFakeFcm, type FakeFcm } from "../support/fake-fcm.ts";
import { testCertificates } from "../support/test-ca.ts";

const NOW = new Date("2030-01-01T12:00:00Z");

let fcm: FakeFcm;
let provider: PushProvider;

beforeAll(async () => {
  fcm = await startFakeFcm();
  provider = await createFcmProvider({
    baseUrl: fcm.origin,
    projectId: fcm.projectId,
    accessToken: fcm.accessToken,
    ca: testCertificates().ca,
    clock: () => NOW,
  });
});

afterAll(async () => {
  await provider.close();
  await fcm.close();
});

/** The push a stored message makes for an Android phone, as delivery builds it. */
function pushOf(content: JsonObject): Push {
  const identity = {
    notificationId: randomUUID(),
    ruleId: "sale",
    expiresAt: new Date(NOW.getTime() + 3600_000),
  };
  return {
    ...pushMessageOf(content, identity, "fcm"),
    userId: "ada",
    deviceId: "d1",
    platform: "fcm",
    token: randomUUID(),
    subscription: null,
  };
}

/** Sends `push` and returns the v1 message FCM accepted. */
async function sent(push: Push): Promise<any> {
  const outcome = await provider.send(push);
  expect(outcome, fcm.rejections.at(-1)).toMatchObject({ kind: "sent" });
  return fcm.received.find((r) => r.message.token === push.token)?.message;
}

const BUY = { id: "buy", title: "Buy now", deepLink: "shop://buy/1" };
const LATER = { id: "later", title: "Later", destructive: true };
const EXPIRATION = String(NOW.getTime() / 1000 + 3600);

describe("FCM provider: actions", () => {
  it("when a message has actions, then Android gets a data message the app draws, with the actions as a JSON string, and iOS an alert in the category", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      image: "https://cdn.example/boots.jpg",
      data: { product_id: "1" },
      actions: [BUY, { ...LATER, foreground: true }],
    });

    expect(await sent(push)).toEqual({
      token: push.token,
      data: {
        product_id: "1",
        nudge_id: push.notificationId,
        title: "Sale",
        body: "Boots",
        image: "https://cdn.example/boots.jpg",
        tag: "sale",
        actions:
          '[{"id":"buy","title":"Buy now","deep_link":"shop://buy/1"},{"id":"later","title":"Later","foreground":true,"destructive":true}]',
      },
      android: {
        collapse_key: push.notificationId,
        priority: "high",
        ttl: "3600s",
      },
      apns: {
        headers: {
          "apns-collapse-id": push.notificationId,
          "apns-expiration": EXPIRATION,
        },
        payload: {
          aps: {
            alert: { title: "Sale", body: "Boots" },
            "thread-id": "sale",
            "mutable-content": 1,
            category: "sale",
          },
          action_links: { buy: "shop://buy/1" },
        },
      },
      webpush: { headers: { TTL: "3600" } },
    });
  });

  it("when a data key is one FCM reserves, then the fake refuses the message as FCM does", async () => {
    const push = pushOf({ title: "Sale", body: "Boots", data: { from: "x" } });

    expect(await provider.send(push)).toMatchObject({ kind: "permanent" });
    expect(fcm.rejections.at(-1)).toContain("message.data[0].key");
  });
});

describe("FCM provider: options and overrides", () => {
  it("when a message sets every FCM option, then android carries each as FCM v1 names it, and iOS the APNs options", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      sound: "default",
      priority: "normal",
      fcm: {
        channelId: "sales",
        priority: "high",
        tag: "sale-boots",
        color: "#FF8800",
        icon: "ic_sale",
      },
      apns: { interruptionLevel: "passive", relevanceScore: 0.5 },
    });

    expect(await sent(push)).toEqual({
      token: push.token,
      notification: { title: "Sale", body: "Boots" },
      data: { nudge_id: push.notificationId },
      android: {
        collapse_key: push.notificationId,
        // FCM's own priority wins over the message's.
        priority: "high",
        ttl: "3600s",
        notification: {
          tag: "sale-boots",
          sound: "default",
          channel_id: "sales",
          color: "#FF8800",
          icon: "ic_sale",
        },
      },
      apns: {
        headers: {
          "apns-priority": "5",
          "apns-collapse-id": push.notificationId,
          "apns-expiration": EXPIRATION,
        },
        payload: {
          aps: {
            "thread-id": "sale",
            sound: "default",
            "interruption-level": "passive",
            "relevance-score": 0.5,
          },
        },
      },
      webpush: { headers: { TTL: "3600" } },
    });
  });

  it("when a message with actions sets FCM options and overrides, then the data the app draws from carries them", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      actions: [LATER],
      fcm: { channelId: "sales", color: "#00AA00", icon: "ic_sale" },
      overrides: { fcm: { body: "Boots, 20% off", tag: "boots" } },
    });

    const message = await sent(push);

    expect(message.data).toEqual({
      nudge_id: push.notificationId,
      title: "Sale",
      body: "Boots, 20% off",
      tag: "boots",
      channel_id: "sales",
      color: "#00AA00",
      icon: "ic_sale",
      actions: '[{"id":"later","title":"Later","destructive":true}]',
    });
    expect(message.android).toEqual({
      collapse_key: push.notificationId,
      priority: "high",
      ttl: "3600s",
    });
  });

  it("when a colour is not #rrggbb, an android field unknown or an apns priority not 10, 5 or 1, then the fake refuses the message as FCM does", async () => {
    const base = pushOf({ title: "Sale", body: "Boots" });

    expect(
      await provider.send({ ...base, fcm: { color: "orange" } }),
    ).toMatchObject({ kind: "permanent" });
    expect(fcm.rejections.at(-1)).toContain(
      "message.android.notification.color",
    );

    const priority = {
      ...base,
      fcm: { priority: "urgent" },
    } as unknown as Push;
    expect(await provider.send(priority)).toMatchObject({ kind: "permanent" });
    expect(fcm.rejections.at(-1)).toContain("message.android.priority");
  });
});
