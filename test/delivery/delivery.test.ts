import { describe, expect, it } from "vitest";
import { claimDueNotifications } from "../../src/delivery/claim.repository.ts";
import { recordOutcomes } from "../../src/delivery/outcome.repository.ts";
import { listActiveDevices } from "../../src/delivery/recipient.repository.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";
import { useDeliveryApp } from "./delivery-fixture.ts";

const ctx = useDeliveryApp({ env: { DELIVERY_MAX_ATTEMPTS: "3" } });

const NOON = new Date("2026-07-01T12:00:00Z");
const seconds = (n: number) => new Date(NOON.getTime() + n * 1000);

describe("delivery: sent", () => {
  it("when a user has an iPhone, an Android phone and a browser, then each gets one push carrying the notification id and deep link", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios", "android", "web");
    const planned = await ctx.ping(userId, {
      title: "Lamp on sale",
      n: 7,
      image: "https://img.example/lamp.jpg",
    });
    expect(planned.status).toBe("pending");

    await ctx.deliver();

    const id = planned.notification_id;
    const apns = ctx.fakes.apns.received.find(
      (p) => p.token === devices[0]?.token,
    );
    expect(apns).toMatchObject({
      topic: "com.example.shop",
      collapseId: id,
      pushType: "alert",
      payload: {
        aps: {
          alert: { title: "Lamp on sale", body: "Hello you" },
          badge: 3,
          sound: "default",
          "thread-id": "ping",
          "mutable-content": 1,
        },
        nudge_id: id,
        deep_link: "shop://ping/7",
        campaign: "ping-7",
      },
    });
    const fcm = ctx.fakes.fcm.received.find(
      (m) => m.message.token === devices[1]?.token,
    );
    expect(fcm?.message).toMatchObject({
      notification: { title: "Lamp on sale", body: "Hello you" },
      data: { nudge_id: id, deep_link: "shop://ping/7", campaign: "ping-7" },
      android: { collapse_key: id },
    });
    const web = ctx.fakes.webPush.received.find(
      (p) => (p.payload as { data: { nudge_id: string } }).data.nudge_id === id,
    );
    expect(web?.payload).toMatchObject({
      title: "Lamp on sale",
      body: "Hello you",
      data: { nudge_id: id, deep_link: "shop://ping/7" },
    });

    const notification = await ctx.notificationOf(userId);
    expect(notification).toMatchObject({
      status: "sent",
      attempts: 1,
      claimed_until: null,
      // For the stats: where it went, and no dead token on the way.
      platforms: ["apns", "fcm", "webpush"],
      invalid_token: false,
    });
    expect(notification.sent_at).toEqual(NOON);
    const deliveries = await ctx.deliveriesOf(id);
    expect(deliveries.map((d) => [d.platform, d.provider, d.status])).toEqual([
      ["apns", "apns", "sent"],
      ["fcm", "fcm", "sent"],
      ["webpush", "webpush", "sent"],
    ]);
  });

  it("when delivery runs again, then nothing is sent twice", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios");
    await ctx.ping(userId);
    await ctx.deliver();
    await ctx.deliver();
    const token = devices[0]?.token;
    expect(
      ctx.fakes.apns.received.filter((p) => p.token === token),
    ).toHaveLength(1);
  });
});

describe("delivery: dead tokens", () => {
  const cases = [
    {
      platform: "ios" as const,
      kill: (token: string) => {
        ctx.fakes.apns.answerToken(token, {
          status: 410,
          reason: "Unregistered",
          timestamp: Date.now(),
        });
      },
      requests: () => ctx.fakes.apns.requestCount(),
    },
    {
      platform: "android" as const,
      kill: (token: string) => {
        ctx.fakes.fcm.failToken(token, "UNREGISTERED");
      },
      requests: () => ctx.fakes.fcm.requestCount(),
    },
    {
      platform: "web" as const,
      kill: (endpoint: string) => {
        ctx.fakes.webPush.failSubscription(endpoint, { status: 410 });
      },
      requests: () => ctx.fakes.webPush.requestCount(),
    },
  ];

  for (const { platform, kill, requests } of cases) {
    it(`when the ${platform} provider says the token is dead, then the device is disabled, audited, and not tried again`, async () => {
      ctx.app.setNow(NOON);
      const { userId, devices } = await ctx.userWith(platform);
      const token = devices[0]?.token ?? "";
      kill(token);
      const first = await ctx.ping(userId);
      await ctx.deliver();

      expect(await ctx.notificationOf(userId)).toMatchObject({
        status: "failed",
        reason: "invalid_token",
      });
      const [delivery] = await ctx.deliveriesOf(first.notification_id);
      expect(delivery?.status).toBe("invalid_token");
      expect(await ctx.notificationOf(userId)).toMatchObject({
        platforms: [delivery?.platform],
        invalid_token: true,
      });
      const device = await ctx.database.db
        .selectFrom("devices")
        .selectAll()
        .where("user_id", "=", userId)
        .executeTakeFirstOrThrow();
      expect(device.status).toBe("disabled");
      expect(device.disabled_reason).toMatch(/^(apns|fcm|webpush): /);
      expect(device.disabled_at).toEqual(NOON);
      const audit = await ctx.database.db
        .selectFrom("device_disablings")
        .selectAll()
        .where("user_id", "=", userId)
        .execute();
      expect(audit).toEqual([
        expect.objectContaining({
          device_id: device.device_id,
          token,
          notification_id: first.notification_id,
          disabled_at: NOON,
        }),
      ]);

      // The next message finds no usable device: suppressed, never sent to it.
      const before = requests();
      const second = await ctx.ping(userId, { n: 2 });
      await ctx.deliver();
      expect(requests()).toBe(before);
      expect(second).toMatchObject({
        status: "suppressed",
        reason: "no_device",
      });
    });
  }
});

describe("delivery: retries", () => {
  it("when FCM answers 429 with Retry-After, then the notification waits at least that long and is then sent", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("android");
    await ctx.ping(userId);
    ctx.fakes.fcm.failNext(1, "QUOTA_EXCEEDED", "120");
    await ctx.deliver();

    const waiting = await ctx.notificationOf(userId);
    expect(waiting).toMatchObject({ status: "pending", attempts: 1 });
    expect(waiting.reason).toMatch(/quota|429/i);
    expect(waiting.send_at.getTime()).toBeGreaterThanOrEqual(
      seconds(120).getTime(),
    );
    const [retry] = await ctx.deliveriesOf(waiting.notification_id);
    expect(retry?.status).toBe("retry");

    // Not due yet: nothing is claimed.
    ctx.app.setNow(seconds(60));
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({ attempts: 1 });

    ctx.app.setNow(waiting.send_at);
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "sent",
      attempts: 2,
      reason: null,
    });
    const token = devices[0]?.token;
    expect(
      ctx.fakes.fcm.received.filter((m) => m.message.token === token),
    ).toHaveLength(1);
  });

  it("when APNs keeps failing with 500, then after DELIVERY_MAX_ATTEMPTS the notification fails with the reason", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios");
    ctx.fakes.apns.answerToken(devices[0]?.token ?? "", {
      status: 500,
      reason: "InternalServerError",
    });
    await ctx.ping(userId);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await ctx.deliver();
      const row = await ctx.notificationOf(userId);
      expect(row.attempts).toBe(attempt);
      ctx.app.setNow(row.send_at);
    }
    const failed = await ctx.notificationOf(userId);
    expect(failed).toMatchObject({ status: "failed" });
    expect(failed.reason).toMatch(/^retries_exhausted: .*500/);
    const [delivery] = await ctx.deliveriesOf(failed.notification_id);
    expect(delivery).toMatchObject({ status: "failed", attempts: 3 });
    // The device is not blamed for the provider's trouble.
    const device = await ctx.database.db
      .selectFrom("devices")
      .select("status")
      .where("user_id", "=", userId)
      .executeTakeFirstOrThrow();
    expect(device.status).toBe("active");
  });

  it("when one device takes the push and another must retry, then the retry goes to the other device only", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios", "android");
    await ctx.ping(userId);
    ctx.fakes.fcm.failNext(1, "UNAVAILABLE");
    await ctx.deliver();
    const waiting = await ctx.notificationOf(userId);
    expect(waiting.status).toBe("pending");
    expect(waiting.sent_at).toEqual(NOON);

    ctx.app.setNow(waiting.send_at);
    await ctx.deliver();
    expect(waiting.platforms).toEqual(["apns", "fcm"]);
    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "sent",
      attempts: 2,
      // The second attempt tried FCM alone; the first one's APNs still counts.
      platforms: ["apns", "fcm"],
    });
    const [ios, android] = devices.map((d) => d.token);
    expect(ctx.fakes.apns.received.filter((p) => p.token === ios)).toHaveLength(
      1,
    );
    expect(
      ctx.fakes.fcm.received.filter((m) => m.message.token === android),
    ).toHaveLength(1);
    const deliveries = await ctx.deliveriesOf(waiting.notification_id);
    expect(deliveries.map((d) => [d.platform, d.status, d.attempts])).toEqual([
      ["apns", "sent", 1],
      ["fcm", "sent", 2],
    ]);
  });
});

describe("delivery: permanent failures and the final check", () => {
  it("when APNs says the payload is too large, then the notification fails at once with what to fix", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios");
    ctx.fakes.apns.answerToken(devices[0]?.token ?? "", {
      status: 413,
      reason: "PayloadTooLarge",
    });
    await ctx.ping(userId);
    await ctx.deliver();
    const failed = await ctx.notificationOf(userId);
    expect(failed).toMatchObject({ status: "failed", attempts: 1 });
    expect(failed.reason).toMatch(/PayloadTooLarge|too large/i);
  });

  it("when the user opts out while the notification waits, then it is suppressed at send time", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios");
    await ctx.ping(userId);
    const response = await ctx.app.request(
      "PUT",
      `/v1/users/${userId}/preferences`,
      { body: { optOut: true }, admin: true },
    );
    expect(response.status).toBe(200);
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "suppressed",
      reason: "opted_out",
    });
    const token = devices[0]?.token;
    expect(ctx.fakes.apns.received.filter((p) => p.token === token)).toEqual(
      [],
    );
  });

  it("when the message's ttl passed before it could be sent, then it is suppressed as expired", async () => {
    ctx.app.setNow(NOON);
    const { userId } = await ctx.userWith("android");
    await ctx.ping(userId);
    ctx.app.setNow(seconds(3601));
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "suppressed",
      reason: "expired",
    });
  });
});

describe("delivery: a profile merged while its push is in flight", () => {
  /**
   * An anonymous user's push claimed and sent, as the worker does, but not yet
   * recorded when the user logs in and the anonymous profile is merged into theirs.
   */
  async function inFlightThenMerged() {
    ctx.app.setNow(NOON);
    const anonymousId = uniqueId("anon");
    const userId = uniqueId("user");
    const send = async (event: Record<string, unknown>) => {
      const response = await ctx.app.request("POST", "/v1/segment", {
        body: { messageId: uniqueId("msg"), anonymousId, ...event },
      });
      expect(response.status).toBe(200);
    };
    await send({
      type: "identify",
      context: { device: { type: "ios", token: apnsToken() } },
    });
    await send({
      type: "track",
      event: "Ping",
      properties: { title: "Ping", n: 1 },
    });
    await ctx.app.deps.planner.drain();
    const { db } = ctx.database;
    const [claimed] = await claimDueNotifications(db, NOON, 10, 60_000);
    if (claimed === undefined) throw new Error("nothing was due");
    expect(claimed.userId).toBe(anonymousId);
    await send({ type: "identify", userId });
    const [device] = await listActiveDevices(db, [userId]);
    if (device === undefined) throw new Error("the device did not move");
    // What the worker records, still naming the anonymous user.
    const record = (outcome: "sent" | "invalid_token") =>
      recordOutcomes(
        db,
        {
          notifications: [
            {
              userId: anonymousId,
              notificationId: claimed.notificationId,
              claimedUntil: claimed.claimedUntil,
              status: outcome === "sent" ? "sent" : "failed",
              reason: outcome === "sent" ? null : "invalid_token",
              sendAt: null,
              sentAt: outcome === "sent" ? NOON : null,
              releasedAttempt: false,
            },
          ],
          deliveries: [
            {
              userId: anonymousId,
              notificationId: claimed.notificationId,
              deviceId: device.deviceId,
              platform: device.platform,
              provider: "apns",
              status: outcome,
              reason: outcome === "sent" ? null : "Unregistered",
              providerMessageId: null,
              attempts: 1,
            },
          ],
          disablings:
            outcome === "sent"
              ? []
              : [
                  {
                    userId: anonymousId,
                    deviceId: device.deviceId,
                    platform: device.platform,
                    token: device.token,
                    provider: "apns",
                    reason: "Unregistered",
                    notificationId: claimed.notificationId,
                  },
                ],
        },
        NOON,
      );
    return { userId, claimed, device, record };
  }

  it("when the anonymous profile is merged before the outcome is recorded, then the outcome follows the notification and nothing is sent again", async () => {
    const { userId, claimed, record } = await inFlightThenMerged();
    await record("sent");

    expect(await ctx.notificationOf(userId)).toMatchObject({
      notification_id: claimed.notificationId,
      status: "sent",
      platforms: ["apns"],
    });
    const deliveries = await ctx.deliveriesOf(claimed.notificationId);
    expect(deliveries.map((d) => [d.user_id, d.status])).toEqual([
      [userId, "sent"],
    ]);
    // Long after the lease: nothing to reclaim, nothing sent again.
    ctx.app.setNow(seconds(3600));
    const before = ctx.fakes.apns.received.length;
    await ctx.deliver();
    expect(ctx.fakes.apns.received.length).toBe(before);
  });

  it("when the push met a dead token, then the device is disabled under the user it moved to", async () => {
    const { userId, device, record } = await inFlightThenMerged();
    await record("invalid_token");

    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "failed",
      invalid_token: true,
    });
    expect(await listActiveDevices(ctx.database.db, [userId])).toEqual([]);
    const disabled = await ctx.database.db
      .selectFrom("devices")
      .select(["user_id", "status"])
      .where("device_id", "=", device.deviceId)
      .executeTakeFirstOrThrow();
    expect(disabled).toEqual({ user_id: userId, status: "disabled" });
  });
});
