import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApnsProvider } from "../../src/providers/apns.provider.ts";
import type { Push, PushProvider } from "../../src/providers/provider.ts";
import { pushMessageOf } from "../../src/providers/push-content.ts";
import type { JsonObject } from "../../src/vocabulary.ts";
import {
  generateApnsSigningKey,
  startFakeApns,
  type FakeApns,
} from "../support/fake-apns.ts";
import { testCertificates } from "../support/test-ca.ts";

const signingKey = generateApnsSigningKey();
const [teamId, keyId, topic] = ["TEAM123456", "KEY7654321", "com.example.shop"];

let apns: FakeApns;
let provider: PushProvider;

beforeAll(async () => {
  apns = await startFakeApns({
    teamId,
    keyId,
    publicKey: signingKey.publicKey,
  });
  provider = createApnsProvider({
    key: signingKey.p8,
    keyId,
    teamId,
    topic,
    production: true,
    host: apns.host,
    port: apns.port,
    ca: testCertificates().ca,
  });
});

afterAll(async () => {
  await provider.close();
  await apns.close();
});

/** The push a stored message makes for an iPhone, as delivery builds it. */
function pushOf(content: JsonObject): Push {
  const identity = {
    notificationId: randomUUID(),
    ruleId: "sale",
    expiresAt: undefined,
  };
  return {
    ...pushMessageOf(content, identity, "apns"),
    userId: "ada",
    deviceId: "d1",
    platform: "apns",
    token: randomBytes(32).toString("hex"),
    subscription: null,
  };
}

/** Sends `push` and returns what APNs received, headers and payload. */
async function sent(push: Push) {
  expect(await provider.send(push)).toMatchObject({ kind: "sent" });
  return apns.received.find((p) => p.token === push.token);
}

const BUY = { id: "buy", title: "Buy now", deepLink: "shop://buy/1" };
const LATER = { id: "later", title: "Later", destructive: true };

describe("APNs provider: actions", () => {
  it("when a message has actions, then aps names the rule's category and action_links holds each deep link", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      actions: [BUY, LATER],
    });

    const received = await sent(push);

    expect(received).toMatchObject({ pushType: "alert", priority: "10" });
    expect(received?.payload).toEqual({
      aps: {
        alert: { title: "Sale", body: "Boots" },
        "thread-id": "sale",
        category: "sale",
      },
      nudge_id: push.notificationId,
      action_links: { buy: "shop://buy/1" },
    });
  });

  it("when the message names an APNs category, then aps carries that one, and no action_links without deep links", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      actions: [LATER],
      apns: { category: "SALE_ACTIONS" },
    });

    const received = await sent(push);

    expect(received?.payload).toEqual({
      aps: {
        alert: { title: "Sale", body: "Boots" },
        "thread-id": "sale",
        category: "SALE_ACTIONS",
      },
      nudge_id: push.notificationId,
    });
  });

  it("when a silent message holds actions, then the background push carries none", async () => {
    const push = pushOf({ silent: true, actions: [BUY], data: { a: "1" } });

    const received = await sent(push);

    expect(received).toMatchObject({ pushType: "background", priority: "5" });
    expect(received?.payload).toEqual({
      aps: { "content-available": 1 },
      a: "1",
      nudge_id: push.notificationId,
    });
  });
});

describe("APNs provider: options and overrides", () => {
  it("when a message sets every APNs option and normal priority, then aps and the headers carry each as Apple names it", async () => {
    const push = pushOf({
      title: "Sale",
      body: "Boots",
      priority: "normal",
      apns: {
        interruptionLevel: "time-sensitive",
        relevanceScore: 0.75,
        threadId: "sale-boots",
        subtitle: "Today only",
        category: "SALE",
      },
      // Another platform's options never reach APNs.
      fcm: { channelId: "sales" },
      webpush: { icon: "https://cdn.example/i.png" },
    });

    const received = await sent(push);

    expect(received).toMatchObject({
      pushType: "alert",
      priority: "5",
      collapseId: push.notificationId,
    });
    expect(received?.payload).toEqual({
      aps: {
        alert: { title: "Sale", subtitle: "Today only", body: "Boots" },
        "thread-id": "sale-boots",
        category: "SALE",
        "interruption-level": "time-sensitive",
        "relevance-score": 0.75,
      },
      nudge_id: push.notificationId,
    });
  });

  it("when overrides.apns replaces text and options, then APNs gets those and the other platforms keep the message's", async () => {
    const content = {
      title: "Sale on boots",
      body: "All boots 20% off today",
      deepLink: "https://shop.example/boots",
      apns: { subtitle: "Today" },
      overrides: {
        apns: {
          title: "Boots -20%",
          deepLink: "shop://boots",
          subtitle: "Only today",
          priority: "normal",
        },
        fcm: { title: "Not for iOS" },
      },
    };
    const push = pushOf(content);

    const received = await sent(push);

    expect(received?.priority).toBe("5");
    expect(received?.payload).toEqual({
      aps: {
        alert: {
          title: "Boots -20%",
          subtitle: "Only today",
          body: "All boots 20% off today",
        },
        "thread-id": "sale",
      },
      nudge_id: push.notificationId,
      deep_link: "shop://boots",
    });
  });

  it("when aps holds a relevance score outside [0, 1] or an unknown interruption level, then the fake refuses it", async () => {
    const base = pushOf({ title: "Sale", body: "Boots" });
    const score = { ...base, apns: { relevanceScore: 2 } };
    const level = {
      ...base,
      token: randomBytes(32).toString("hex"),
      apns: { interruptionLevel: "urgent" },
    } as unknown as Push;

    expect(await provider.send(score)).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("FakeInvalidAps relevance-score"),
    });
    expect(await provider.send(level)).toMatchObject({
      kind: "permanent",
      reason: expect.stringContaining("FakeInvalidAps interruption-level"),
    });
  });
});
