import { describe, expect, it } from "vitest";
import { timingArm } from "../../src/rules/send-time.ts";
import { uniqueId } from "../support/test-database.ts";
import {
  pingRules,
  postIphoneUsers,
  saleRule,
  useDeliveryApp,
  wishlist,
} from "./delivery-fixture.ts";

// A sale sent 09:00–21:00 in each user's timezone, at the hour each opens most, with
// three in ten users in the control group. No quiet hours.
const CONTROL = 0.3;
const ctx = useDeliveryApp({
  rules: {
    settings: pingRules.settings,
    collections: [wishlist],
    rules: [
      {
        ...saleRule,
        delivery: {
          quietHours: false,
          ttl: "2d",
          window: {
            start: "09:00",
            end: "21:00",
            optimize: { control: CONTROL, halfLife: "14d" },
          },
        },
      },
    ],
  },
});

// Noon in Berlin (summer time, UTC+2): inside the window.
const NOON = new Date("2026-07-01T10:00:00Z");
const HOUR = 3_600_000;
/** The UTC instant of a Berlin hour on 1 July 2026. */
const berlin = (hour: number) =>
  new Date(Date.parse("2026-07-01T00:00:00Z") + (hour - 2) * HOUR);

/** Writes a user's past opens: `count` pushes of another rule opened at a Berlin hour. */
async function plantOpens(userId: string, hour: number, count: number) {
  const rows = Array.from({ length: count }, (_, day) => {
    const opened = new Date(berlin(hour).getTime() - (day + 1) * 24 * HOUR);
    const sent = new Date(opened.getTime() - 5 * 60_000);
    return {
      user_id: userId,
      notification_id: uniqueId("planted"),
      match_id: uniqueId("match"),
      rule_id: "earlier-news",
      rule_version: "v1",
      status: "sent",
      send_at: sent,
      sent_at: sent,
      opened_at: new Date(opened.getTime() + 10 * 60_000),
      content: JSON.stringify({ title: "News", body: "…" }),
      created_at: sent,
      updated_at: opened,
    };
  });
  await ctx.database.db.insertInto("notifications").values(rows).execute();
}

/** Users in Berlin who saved one product; returns them and the product. */
async function berliners(count: number) {
  const productId = uniqueId("product");
  const users = await postIphoneUsers(
    ctx.app,
    count,
    () => ({
      type: "track",
      event: "Product Added to Wishlist",
      properties: { product_id: productId },
    }),
    { timezone: "Europe/Berlin" },
  );
  return { users, productId };
}

async function putOnSale(productId: string) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: {
      type: "track",
      event: "Product Updated",
      userId: "merchandiser",
      messageId: uniqueId("msg"),
      properties: { product_id: productId, name: "Boots", on_sale: true },
    },
  });
  expect(response.status).toBe(200);
  await ctx.app.deps.planner.drain();
}

const saleOf = (userIds: string[]) =>
  ctx.database.db
    .selectFrom("notifications")
    .select([
      "user_id",
      "notification_id",
      "status",
      "send_at",
      "deferred_by",
      "timing",
    ])
    .where("rule_id", "=", "sale")
    .where("user_id", "in", userIds)
    .execute();

// Each user opens at one of 14:00, 15:00 and 16:00 Berlin time; 16:00 has the most
// opens of the app. Those with no history of their own get the app's hour.
const OWN_HOURS = [14, 15, 16];
const OPENS_AT = { 14: 1, 15: 1, 16: 3 } as Record<number, number>;

describe("learned send time", () => {
  it("when a sale goes to users with open histories, then each optimized user waits for their own hour, the others for the app's, and the control group goes at once", async () => {
    ctx.app.setNow(NOON);
    const { users, productId } = await berliners(30);
    const ownHour = new Map<string, number>();
    for (const [i, { userId }] of users.entries()) {
      if (i >= 24) continue; // the last six have no history
      const hour = OWN_HOURS[i % 3] as number;
      ownHour.set(userId, hour);
      await plantOpens(userId, hour, OPENS_AT[hour] as number);
    }
    await putOnSale(productId);

    const rows = await saleOf(users.map((u) => u.userId));
    expect(rows).toHaveLength(30);
    const arms = { optimized: 0, control: 0 };
    for (const row of rows) {
      const arm = timingArm("sale", row.user_id, CONTROL);
      expect(row.timing).toBe(arm);
      arms[arm]++;
      if (arm === "control") {
        // Inside the window: as the window alone sends, at once.
        expect(row).toMatchObject({ status: "pending", deferred_by: null });
        expect(row.send_at).toEqual(NOON);
        continue;
      }
      const hour = ownHour.get(row.user_id) ?? 16;
      expect(row).toMatchObject({ status: "pending", deferred_by: "window" });
      expect(row.send_at).toEqual(berlin(hour));
    }
    expect(arms.optimized).toBeGreaterThan(0);
    expect(arms.control).toBeGreaterThan(0);

    // The control group is sent now, the 14:00 users when the clock reaches 14:00.
    await ctx.deliver();
    const sentNow = await saleOf(users.map((u) => u.userId));
    for (const row of sentNow) {
      expect(row.status).toBe(row.timing === "control" ? "sent" : "pending");
    }
    ctx.app.setNow(berlin(14));
    await ctx.deliver();
    for (const row of await saleOf(users.map((u) => u.userId))) {
      const due = row.timing === "control" || ownHour.get(row.user_id) === 14;
      expect(row.status).toBe(due ? "sent" : "pending");
    }
  });

  it("when the sale is previewed, then each recipient shows the hour chosen for them and what chose it", async () => {
    ctx.app.setNow(NOON);
    const { users, productId } = await berliners(12);
    for (const { userId } of users) await plantOpens(userId, 15, 2);
    const response = await ctx.app.request("POST", "/v1/rules/sale/preview", {
      admin: true,
      body: {
        event: {
          type: "track",
          event: "Product Updated",
          userId: "merchandiser",
          properties: { product_id: productId, name: "Boots", on_sale: true },
        },
      },
    });
    expect(response.status).toBe(200);
    const recipients = response.body.recipients as {
      userId: string;
      sendAt: string;
      sendTime: object;
    }[];
    expect(recipients).toHaveLength(12);
    for (const r of recipients) {
      const control = timingArm("sale", r.userId, CONTROL) === "control";
      expect(r.sendTime).toEqual(
        control
          ? { timing: "control", hour: "09:00", source: "control" }
          : { timing: "optimized", hour: "15:00", source: "own" },
      );
      expect(r.sendAt).toBe((control ? NOON : berlin(15)).toISOString());
    }
  });

  it("when the stats are grouped by timing, then optimized and control show their sends and opens, with the lift and p-value of optimized", async () => {
    ctx.app.setNow(NOON);
    const { users, productId } = await berliners(20);
    await putOnSale(productId);
    ctx.app.setNow(berlin(20));
    await ctx.deliver();
    const rows = await saleOf(users.map((u) => u.userId));
    // One user of each arm opens their push.
    for (const arm of ["optimized", "control"]) {
      const row = rows.find((r) => r.timing === arm);
      if (row === undefined) throw new Error(`no ${arm} recipient`);
      const tap = await ctx.app.request("POST", "/v1/segment", {
        body: {
          type: "track",
          event: "Push Notification Tapped",
          userId: row.user_id,
          messageId: uniqueId("msg"),
          timestamp: berlin(20).toISOString(),
          properties: { nudge_id: row.notification_id },
        },
      });
      expect(tap.status).toBe(200);
    }

    const stats = await ctx.app.request(
      "GET",
      `/v1/stats?ruleId=sale&groupBy=timing&from=2026-06-30&to=2026-07-02`,
      { admin: true },
    );
    expect(stats.status).toBe(200);
    const all = await ctx.database.db
      .selectFrom("notifications")
      .select(["timing", "status", "opened_at"])
      .where("rule_id", "=", "sale")
      .execute();
    const count = (arm: string) => all.filter((n) => n.timing === arm);
    const groups = stats.body.groups as {
      group: string;
      sent: number;
      opened: number;
      rates: { open: number | null };
      lift?: number | null;
      pValue?: number | null;
    }[];
    expect(groups.map((g) => g.group).sort()).toEqual(["control", "optimized"]);
    for (const group of groups) {
      const mine = count(group.group);
      expect(group.sent).toBe(mine.filter((n) => n.status === "sent").length);
      expect(group.opened).toBe(mine.filter((n) => n.opened_at).length);
      expect(group.rates.open).toBeCloseTo(group.opened / group.sent);
    }
    const optimized = groups.find((g) => g.group === "optimized");
    const control = groups.find((g) => g.group === "control");
    expect(optimized?.lift).toBeCloseTo(
      (optimized?.rates.open ?? 0) / (control?.rates.open ?? 1) - 1,
    );
    expect(optimized?.pValue).toBeGreaterThan(0);
    expect(control?.lift).toBeUndefined();
  });
});
