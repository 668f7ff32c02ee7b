import { describe, expect, it } from "vitest";
import { warningsOfEvent } from "../../src/ingest/event-changes.ts";
import { parseSegmentEvent } from "../../src/ingest/segment-event.schema.ts";

const APNS_TOKEN =
  "ff15bc0c20c4aa6cd50854ff165fd265c838e5405bfeb9571066395b8c9da449";

function codesOf(input: Record<string, unknown>): string[] {
  const result = parseSegmentEvent(
    { userId: "u1", messageId: "m1", ...input },
    new Date("2024-06-01T00:00:00Z"),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return warningsOfEvent(result.event).map((w) => w.code);
}

const webPush = (subscription: unknown) =>
  codesOf({
    type: "track",
    event: "Web Push Subscribed",
    properties: { subscription },
  });

describe("warningsOfEvent", () => {
  it.each([
    [
      "an http:// endpoint as text",
      "http://push.test/x",
      "web_push_endpoint_not_https",
    ],
    [
      "an http:// endpoint in the object",
      { endpoint: "http://push.test/x", keys: { p256dh: "p", auth: "a" } },
      "web_push_endpoint_not_https",
    ],
    ["no keys", { endpoint: "https://push.test/x" }, "web_push_keys_missing"],
    [
      "an empty auth key",
      { endpoint: "https://push.test/x", keys: { p256dh: "p", auth: "" } },
      "web_push_keys_missing",
    ],
    ["text that is not JSON", "{endpoint", "web_push_subscription_invalid"],
    ["nothing", undefined, "web_push_subscription_invalid"],
    [
      "an endpoint over 2,048 bytes",
      `https://push.test/${"x".repeat(2048)}`,
      "device_token_too_long",
    ],
  ])(
    "when Web Push Subscribed carries %s, then %s",
    (_, subscription, code) => {
      expect(webPush(subscription)).toEqual([code]);
    },
  );

  it("when Web Push Subscribed carries a bare https endpoint, then nothing is warned: it may change a known subscription's status", () => {
    expect(webPush("https://push.test/x")).toEqual([]);
  });

  it.each([
    [
      "a type other than ios or android",
      { type: "windows", token: APNS_TOKEN },
      ["device_type_unknown"],
    ],
    ["no type", { token: APNS_TOKEN }, ["device_type_unknown"]],
    [
      "an ios token of 32 hex digits",
      { type: "ios", token: APNS_TOKEN.slice(0, 32) },
      ["device_token_malformed"],
    ],
    [
      "an android token of hex digits only",
      { type: "android", token: APNS_TOKEN },
      ["device_token_malformed"],
    ],
    ["an APNs token", { type: "ios", token: APNS_TOKEN }, []],
    [
      "an FCM token from an iOS app",
      { type: "ios", token: "dGVzdC1mY20:APA91b" },
      [],
    ],
    ["no token", { type: "ios" }, []],
  ])(
    "when context.device has %s, then the warnings are %j",
    (_, device, codes) => {
      expect(
        codesOf({ type: "track", event: "App Opened", context: { device } }),
      ).toEqual(codes);
    },
  );

  it("when messaging_subscriptions hold Engage's other channels, then they pass without a warning", () => {
    expect(
      codesOf({
        type: "identify",
        context: {
          messaging_subscriptions: [
            { key: "a@example.test", type: "EMAIL", status: "SUBSCRIBED" },
            { key: "+15555550100", type: "sms", status: "UNSUBSCRIBED" },
            { key: "+15555550100", type: "WHATSAPP", status: "SUBSCRIBED" },
          ],
        },
      }),
    ).toEqual([]);
  });
});
