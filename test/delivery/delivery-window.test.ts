import { describe, expect, it } from "vitest";
import { uniqueId } from "../support/test-database.ts";
import {
  pingRules,
  postIphoneUsers,
  saleRule,
  useDeliveryApp,
  wishlist,
} from "./delivery-fixture.ts";

const [ping] = pingRules.rules;
const EVENING = { start: "18:00", end: "22:00" };

// The ping waits for 18:00–22:00 in each user's timezone; a short-lived ping expires
// before that; the sale spreads its savers over the window. No quiet hours.
const ctx = useDeliveryApp({
  rules: {
    settings: pingRules.settings,
    collections: [wishlist],
    rules: [
      { ...ping, delivery: { window: EVENING, ttl: "1d" } },
      {
        ...ping,
        id: "short-ping",
        trigger: 'event = "Short Ping"',
        delivery: { window: EVENING, ttl: "2h" },
      },
      {
        ...saleRule,
        delivery: { window: { ...EVENING, spread: true }, ttl: "1d" },
      },
    ],
  },
});

// In Berlin (summer time, UTC+2): noon, 18:00 and 19:00.
const NOON = new Date("2026-07-01T10:00:00Z");
const OPENING = new Date("2026-07-01T16:00:00Z");
const INSIDE = new Date("2026-07-01T17:00:00Z");
const MINUTE = 60_000;

/** An iPhone user whose profile says they live in Berlin. */
async function berlinUser() {
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
  return { userId, token: devices[0]?.token ?? "" };
}

const pushesTo = (token: string) =>
  ctx.fakes.apns.received.filter((p) => p.token === token);

describe("delivery window: hold and release", () => {
  it("when a push is planned before the user's window, then it waits as a pending row until the opening and is sent when the clock reaches it", async () => {
    ctx.app.setNow(NOON);
    const { userId, token } = await berlinUser();

    const waiting = await ctx.ping(userId);
    expect(waiting).toMatchObject({
      status: "pending",
      deferred_by: "window",
      attempts: 0,
    });
    expect(waiting.send_at).toEqual(OPENING);

    ctx.app.setNow(new Date(OPENING.getTime() - MINUTE));
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "pending",
    });
    expect(pushesTo(token)).toHaveLength(0);

    ctx.app.setNow(OPENING);
    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({ status: "sent" });
    expect(pushesTo(token)).toHaveLength(1);

    const listed = await ctx.app.request(
      "GET",
      `/v1/notifications?userId=${userId}`,
      { admin: true },
    );
    expect(listed.body.notifications[0].history).toContainEqual({
      at: NOON.toISOString(),
      event: "deferred",
      until: OPENING.toISOString(),
      by: ["window"],
    });
  });

  it("when a push is planned inside the user's window, then it goes now", async () => {
    ctx.app.setNow(INSIDE);
    const { userId, token } = await berlinUser();

    const planned = await ctx.ping(userId);
    expect(planned).toMatchObject({ status: "pending", deferred_by: null });
    expect(planned.send_at).toEqual(INSIDE);

    await ctx.deliver();
    expect(await ctx.notificationOf(userId)).toMatchObject({ status: "sent" });
    expect(pushesTo(token)).toHaveLength(1);
  });

  it("when the ttl ends before the window opens, then the push is suppressed as expired and never sent", async () => {
    ctx.app.setNow(NOON);
    const { userId, token } = await berlinUser();
    const response = await ctx.app.request("POST", "/v1/segment", {
      body: {
        type: "track",
        event: "Short Ping",
        userId,
        messageId: uniqueId("msg"),
        properties: { title: "Soon gone", n: 2 },
      },
    });
    expect(response.status).toBe(200);
    await ctx.app.deps.planner.drain();

    expect(await ctx.notificationOf(userId)).toMatchObject({
      status: "suppressed",
      reason: "expired",
    });
    ctx.app.setNow(OPENING);
    await ctx.deliver();
    expect(pushesTo(token)).toHaveLength(0);
  });

  it("when a rule with a window is previewed, then the preview shows the opening and the window as the deferral", async () => {
    ctx.app.setNow(NOON);
    const { userId } = await berlinUser();
    const response = await ctx.app.request("POST", "/v1/rules/ping/preview", {
      admin: true,
      body: {
        event: { type: "track", event: "Ping", userId, properties: { n: 1 } },
      },
    });
    expect(response.status).toBe(200);
    expect(response.body.recipients).toEqual([
      expect.objectContaining({
        userId,
        status: "pending",
        sendAt: OPENING.toISOString(),
        deferredBy: ["window"],
      }),
    ]);
  });
});

describe("delivery window: spread over the window", () => {
  it("when a sale reaches many savers before the window, then their sends are spread over it and released as the clock moves through it", async () => {
    ctx.app.setNow(NOON);
    const productId = uniqueId("product");
    // No timezone on these profiles: the window is in the default, UTC.
    const users = await postIphoneUsers(ctx.app, 60, () => ({
      type: "track",
      event: "Product Added to Wishlist",
      properties: { product_id: productId },
    }));
    const sale = await ctx.app.request("POST", "/v1/segment", {
      body: {
        type: "track",
        event: "Product Updated",
        userId: "merchandiser",
        messageId: uniqueId("msg"),
        properties: { product_id: productId, name: "Boots", on_sale: true },
      },
    });
    expect(sale.status).toBe(200);
    await ctx.app.deps.planner.drain();

    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["user_id", "status", "send_at", "deferred_by"])
      .where("rule_id", "=", "sale")
      .where(
        "user_id",
        "in",
        users.map((u) => u.userId),
      )
      .execute();
    expect(rows).toHaveLength(60);
    const opening = Date.parse("2026-07-01T18:00:00Z");
    const hours = new Set<number>();
    for (const row of rows) {
      expect(row).toMatchObject({ status: "pending", deferred_by: "window" });
      const offset = row.send_at.getTime() - opening;
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(4 * 3_600_000);
      hours.add(Math.floor(offset / 3_600_000));
    }
    // Sixty draws leave an hour of the four empty about once in ten million runs.
    expect([...hours].sort()).toEqual([0, 1, 2, 3]);

    // Halfway through the window, the first half of the audience has been sent.
    const halfway = new Date(opening + 2 * 3_600_000);
    ctx.app.setNow(halfway);
    await ctx.deliver();
    const due = rows.filter((row) => row.send_at <= halfway).length;
    const sent = users.filter((u) => pushesTo(u.token).length === 1).length;
    expect(sent).toBe(due);
    expect(due).toBeGreaterThan(0);
    expect(due).toBeLessThan(60);
  });
});
