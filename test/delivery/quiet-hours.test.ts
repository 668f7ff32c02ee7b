import { describe, expect, it } from "vitest";
import { uniqueId } from "../support/test-database.ts";
import { pingRules, useDeliveryApp } from "./delivery-fixture.ts";

const [ping] = pingRules.rules;

// Quiet hours from 22:00 to 08:00 in each user's own timezone.
const ctx = useDeliveryApp({
  rules: {
    settings: {
      ...pingRules.settings,
      quietHours: { start: "22:00", end: "08:00" },
    },
    rules: [{ ...ping, delivery: { quietHours: true, ttl: "1d" } }],
  },
});

// In Berlin (summer time, UTC+2): 21:50, 22:30, and 08:00 the next morning.
const EVENING = new Date("2026-07-01T19:50:00Z");
const NIGHT = new Date("2026-07-01T20:30:00Z");
const MORNING = new Date("2026-07-02T06:00:00Z");

/** An iPhone user in Berlin whose ping was planned in the evening, due at once. */
async function berlinUserPingedInTheEvening() {
  ctx.app.setNow(EVENING);
  const { userId, devices } = await ctx.userWith("ios");
  const identify = await ctx.app.request("POST", "/v1/segment", {
    body: {
      type: "identify",
      userId,
      messageId: uniqueId("msg"),
      context: { timezone: "Europe/Berlin" },
    },
  });
  expect(identify.status).toBe(200);
  const planned = await ctx.ping(userId);
  expect(planned).toMatchObject({ status: "pending", deferred_by: null });
  expect(planned.send_at).toEqual(EVENING);
  return { userId, token: devices[0]?.token ?? "" };
}

const pushesTo = (token: string) =>
  ctx.fakes.apns.received.filter((p) => p.token === token);

describe("delivery: quiet hours at send time", () => {
  it("when a message due in the evening is only sent once the user's night began, then it waits for their morning", async () => {
    const { userId, token } = await berlinUserPingedInTheEvening();

    ctx.app.setNow(NIGHT);
    await ctx.deliver();

    const waiting = await ctx.notificationOf(userId);
    expect(waiting).toMatchObject({
      status: "pending",
      attempts: 0,
      claimed_until: null,
      deferred_by: "quiet_hours",
    });
    expect(waiting.send_at).toEqual(MORNING);
    expect(pushesTo(token)).toHaveLength(0);

    ctx.app.setNow(MORNING);
    await ctx.deliver();

    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "sent",
      attempts: 1,
    });
    expect(pushesTo(token)).toHaveLength(1);
  });

  it("when a retry's wait ends in the user's night, then the retry waits for their morning and keeps its attempt count", async () => {
    const { userId, token } = await berlinUserPingedInTheEvening();
    ctx.fakes.apns.answerNext(1, {
      status: 429,
      reason: "TooManyRequests",
      retryAfter: "1800",
    });

    await ctx.deliver();
    const retrying = await ctx.notificationOf(userId);
    expect(retrying).toMatchObject({ status: "pending", attempts: 1 });
    // 22:20 in Berlin: inside quiet hours.
    expect(retrying.send_at).toEqual(new Date("2026-07-01T20:20:00Z"));

    ctx.app.setNow(retrying.send_at);
    await ctx.deliver();
    const deferred = await ctx.notificationOf(userId);
    expect(deferred).toMatchObject({
      status: "pending",
      attempts: 1,
      deferred_by: "quiet_hours",
    });
    expect(deferred.send_at).toEqual(MORNING);

    const listed = await ctx.app.request(
      "GET",
      `/v1/notifications?userId=${userId}`,
      { admin: true },
    );
    expect(listed.body.notifications[0].history).toContainEqual({
      at: EVENING.toISOString(),
      event: "deferred",
      until: MORNING.toISOString(),
      by: ["quiet_hours"],
    });

    ctx.app.setNow(MORNING);
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "sent",
      attempts: 2,
    });
    expect(pushesTo(token)).toHaveLength(1);
  });
});
