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
