import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const ctx = useTestApp();

type Fields = Record<string, unknown>;

const webPushSubscribed = (userId: string, subscription: unknown): Fields => ({
  type: "track",
  event: "Web Push Subscribed",
  userId,
  messageId: uniqueId("msg"),
  properties: { subscription },
});

function post(events: Fields[]) {
  return ctx.app.request("POST", "/v1/segment", { body: events });
}

async function devicesOf(userId: string): Promise<unknown[]> {
  const response = await ctx.app.request("GET", `/v1/users/${userId}`, {
    admin: true,
  });
  return (response.body as { devices: unknown[] }).devices;
}

/** The value of one series of GET /metrics. */
async function metric(series: string): Promise<number> {
  const text = await (await fetch(`${ctx.app.baseUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("warnings about accepted calls", () => {
  it("when Web Push Subscribed carries an http:// endpoint, then the call is accepted with a warning saying what to fix, no device is made, and the warning is counted", async () => {
    const userId = uniqueId("user");
    const series =
      'nudge_ingest_warnings_total{code="web_push_endpoint_not_https"}';
    const before = await metric(series);
    const call = webPushSubscribed(userId, {
      endpoint: "http://push.example.test/x",
      keys: { p256dh: "BNc", auth: "tBH" },
    });

    const response = await post([call]);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [],
      warnings: [
        {
          index: 0,
          messageId: call.messageId,
          code: "web_push_endpoint_not_https",
          message: expect.stringContaining("https://"),
        },
      ],
    });
    expect(await devicesOf(userId)).toEqual([]);
    expect(await metric(series)).toBe(before + 1);
  });

  it("when a call with a warning is sent again, then the duplicate carries no warning", async () => {
    const call = webPushSubscribed(uniqueId("user"), { endpoint: "https://x" });
    expect((await post([call])).body).toMatchObject({
      warnings: [{ index: 0, code: "web_push_keys_missing" }],
    });
    expect((await post([call])).body).toEqual({
      accepted: 0,
      duplicates: 1,
      rejected: [],
    });
  });

  it("when a batch mixes usable and unusable devices, then each unusable one is reported at its call's index and the rest is stored", async () => {
    const userId = uniqueId("user");
    const token = apnsToken();
    const identify = (context: Fields): Fields => ({
      type: "identify",
      userId,
      messageId: uniqueId("msg"),
      traits: { plan: "pro" },
      context,
    });

    const response = await post([
      identify({ device: { type: "ios", token } }),
      identify({ device: { type: "ios", token: token.slice(0, 32) } }),
      identify({
        messaging_subscriptions: [
          { key: "a@example.test", type: "EMAIL", status: "SUBSCRIBED" },
          { key: token, type: "APNS", status: "SUBSCRIBED" },
          { key: token, type: "IOS_PUSH", status: "MAYBE" },
          { type: "ANDROID_PUSH", status: "SUBSCRIBED" },
        ],
      }),
      identify({ device: { type: "android", token } }),
    ]);

    expect(response.status).toBe(200);
    const { warnings } = response.body as {
      warnings: { index: number; code: string }[];
    };
    expect(warnings.map(({ index, code }) => [index, code])).toEqual([
      [1, "device_token_malformed"],
      [2, "subscription_type_unknown"],
      [2, "subscription_status_unknown"],
      [2, "subscription_key_missing"],
      [3, "device_token_malformed"],
    ]);
    expect(await devicesOf(userId)).toEqual([
      expect.objectContaining({ platform: "apns", token }),
    ]);
  });

  it("when nothing of a call goes unused, then the answer has no warnings", async () => {
    const response = await post([
      {
        type: "track",
        event: "Viewed",
        userId: "ada",
        messageId: uniqueId("m"),
      },
    ]);
    expect(response.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });
});
