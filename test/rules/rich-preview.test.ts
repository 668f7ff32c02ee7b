import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { fcmToken, uniqueId } from "../support/test-database.ts";

const rules = {
  rules: [
    {
      id: "back-in-stock",
      trigger: 'event = "Back in Stock"',
      delivery: { quietHours: false },
      message: {
        title: "{{ event.properties.name }} is back",
        body: "Get it now",
        deepLink: "shop://p/1",
        actions: [{ id: "buy", title: "Buy", deepLink: "shop://buy/1" }],
        fcm: { channelId: "promotions" },
        overrides: { webpush: { deepLink: "https://shop.example/p/1" } },
      },
    },
  ],
};

const ctx = useTestApp({ rules });

const SUBSCRIPTION = {
  endpoint: "https://push.example.com/send/preview",
  keys: {
    p256dh:
      "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
    auth: "tBHItJI5svbpez7KI4CCXg",
  },
};

describe("preview of a rich message", () => {
  it("when the recipient has an Android phone and a browser, then the preview shows each platform's request with its size", async () => {
    ctx.app.setNow(new Date("2030-01-15T12:00:00Z"));
    const userId = uniqueId("user");
    const events = [
      {
        type: "identify",
        userId,
        context: { device: { type: "android", token: fcmToken() } },
      },
      {
        type: "track",
        event: "Web Push Subscribed",
        userId,
        properties: { subscription: SUBSCRIPTION },
      },
    ];
    const ingested = await ctx.app.request("POST", "/v1/segment", {
      body: events.map((e) => ({ messageId: uniqueId("msg"), ...e })),
    });
    expect(ingested.status).toBe(200);

    const response = await ctx.app.request(
      "POST",
      "/v1/rules/back-in-stock/preview",
      {
        admin: true,
        body: {
          event: {
            type: "track",
            event: "Back in Stock",
            userId,
            messageId: uniqueId("msg"),
            properties: { name: "Lamp" },
          },
        },
      },
    );

    expect(response.status).toBe(200);
    const [recipient] = response.body.recipients;
    const id = "00000000-0000-5000-8000-000000000000";
    const [fcm, webpush] = recipient.payloads;
    expect(fcm.body.message.data).toEqual({
      nudge_id: id,
      deep_link: "shop://p/1",
      title: "Lamp is back",
      body: "Get it now",
      tag: "back-in-stock",
      channel_id: "promotions",
      actions: '[{"id":"buy","title":"Buy","deep_link":"shop://buy/1"}]',
    });
    expect(fcm).toMatchObject({
      platform: "fcm",
      limit: 4096,
      bytes: Buffer.byteLength(JSON.stringify({ data: fcm.body.message.data })),
    });
    const webPayload = {
      title: "Lamp is back",
      body: "Get it now",
      tag: "back-in-stock",
      actions: [{ action: "buy", title: "Buy" }],
      data: {
        nudge_id: id,
        deep_link: "https://shop.example/p/1",
        action_links: { buy: "shop://buy/1" },
      },
    };
    expect(webpush).toEqual({
      platform: "webpush",
      bytes: Buffer.byteLength(JSON.stringify(webPayload)),
      limit: 3993,
      headers: {
        TTL: String(28 * 24 * 3600),
        Urgency: "high",
        Topic: id.replaceAll("-", ""),
      },
      body: webPayload,
    });
  });
});
