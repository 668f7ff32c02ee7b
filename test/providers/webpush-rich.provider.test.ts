import { randomUUID } from "node:crypto";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Push, PushProvider } from "../../src/providers/provider.ts";
import { pushMessageOf } from "../../src/providers/push-content.ts";
import { createWebPushProvider } from "../../src/providers/webpush.provider.ts";
import type { JsonObject } from "../../src/vocabulary.ts";
import {
  startFakeWebPush,
  type FakeSubscription,
  type FakeWebPush,
} from "../support/fake-webpush.ts";
import { testCertificates } from "../support/test-ca.ts";

const NOW = new Date("2030-01-01T12:00:00Z");
const vapid = webpush.generateVAPIDKeys();

let service: FakeWebPush;
let provider: PushProvider;

beforeAll(async () => {
  service = await startFakeWebPush();
  provider = createWebPushProvider({
    vapidPublicKey: vapid.publicKey,
    vapidPrivateKey: vapid.privateKey,
    vapidSubject: "mailto:ops@nudge.example",
    ca: testCertificates().ca,
    clock: () => NOW,
  });
});

afterAll(async () => {
  await provider.close();
  await service.close();
});

/** The push a stored message makes for a browser, as delivery builds it. */
function pushOf(content: JsonObject): Push {
  const subscription: FakeSubscription = service.subscribe();
  const identity = {
    notificationId: randomUUID(),
    ruleId: "sale",
    expiresAt: new Date(NOW.getTime() + 3600_000),
  };
  return {
    ...pushMessageOf(content, identity, "webpush"),
    userId: "ada",
    deviceId: "d1",
    platform: "webpush",
    token: subscription.endpoint,
    subscription,
  };
}

/** Sends `push` and returns what the push service received, decrypted. */
async function sent(push: Push) {
  const outcome = await provider.send(push);
  expect(outcome, service.rejections.at(-1)).toMatchObject({ kind: "sent" });
  const id = push.token.slice(push.token.lastIndexOf("/") + 1);
  return service.received.find((r) => r.subscriptionId === id);
}

const BUY = {
  id: "buy",
  title: "Buy now",
  deepLink: "https://shop.example/buy",
};
const LATER = { id: "later", title: "Later" };

describe("Web Push provider: actions", () => {
  it("when a message has actions, then the payload holds them as {action, title} and data.action_links their deep links", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      actions: [BUY, LATER],
    });

    const received = await sent(push);

    expect(received?.payload).toEqual({
      title: "Sale",
      body: "Boots",
      tag: "sale",
      actions: [
        { action: "buy", title: "Buy now" },
        { action: "later", title: "Later" },
      ],
      data: {
        nudge_id: push.notificationId,
        action_links: { buy: "https://shop.example/buy" },
      },
    });
    expect(received).toMatchObject({ ttl: 3600, urgency: "high" });
  });
});

describe("Web Push provider: options and overrides", () => {
  it("when a message sets every Web Push option, then the payload carries the notification options and the Urgency header the urgency", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      webpush: {
        icon: "https://shop.example/icon.png",
        badge: "https://shop.example/badge.png",
        tag: "sale-boots",
        requireInteraction: true,
        urgency: "low",
      },
      // APNs' badge count never reaches a browser.
      badge: "3",
    });

    const received = await sent(push);

    expect(received?.payload).toEqual({
      title: "Sale",
      body: "Boots",
      icon: "https://shop.example/icon.png",
      badge: "https://shop.example/badge.png",
      tag: "sale-boots",
      requireInteraction: true,
      data: { nudge_id: push.notificationId },
    });
    expect(received).toMatchObject({ ttl: 3600, urgency: "low" });
  });

  it("when the message's priority is normal and overrides.webpush replaces text, then Urgency is normal and the browser reads the override", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      deepLink: "shop://boots",
      priority: "normal",
      overrides: {
        webpush: { deepLink: "https://shop.example/boots", badge: "/b.png" },
      },
    });

    const received = await sent(push);

    expect(received?.urgency).toBe("normal");
    expect(received?.payload).toEqual({
      title: "Sale",
      body: "Boots",
      badge: "/b.png",
      tag: "sale",
      data: {
        nudge_id: push.notificationId,
        deep_link: "https://shop.example/boots",
      },
    });
  });

  it("when Urgency is not one of RFC 8030's four values, then web-push refuses it before any request (the fake would too)", async () => {
    const push = pushOf({ title: "Sale", body: "Boots" });
    const urgent = {
      ...push,
      webpush: { urgency: "urgent" },
    } as unknown as Push;
    const before = service.requestCount();

    expect(await provider.send(urgent)).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("web-push refused to send"),
    });
    expect(service.requestCount()).toBe(before);
  });
});
