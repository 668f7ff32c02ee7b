import { describe, expect, it } from "vitest";
import { pingRules, useDeliveryApp } from "./delivery-fixture.ts";

const [ping] = pingRules.rules;
const delayedPing = {
  ...ping,
  delivery: { quietHours: false, ttl: "1h", delay: "10m" },
};

// The rules live in the database, so a test can change them while messages wait.
const ctx = useDeliveryApp({
  rules: { ...pingRules, rules: [delayedPing] },
  ruleStore: "database",
});

const NOON = new Date("2026-07-01T12:00:00Z");

/** Lowers the ping rule's own cap to one a day, through the rules API. */
async function capPingAtOnePerDay() {
  const response = await ctx.app.request("PUT", "/v1/rules/ping", {
    admin: true,
    body: {
      ...delayedPing,
      delivery: {
        ...delayedPing.delivery,
        frequencyCap: { max: 1, per: "1d" },
      },
    },
  });
  expect(response.status).toBe(200);
}

describe("delivery: caps at send time", () => {
  it("when the rule's cap is lowered while two messages wait, then the first one goes and the second is suppressed", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios");
    await ctx.ping(userId, { n: 1 });
    await ctx.ping(userId, { n: 2 });

    await capPingAtOnePerDay();

    ctx.app.setNow(new Date(NOON.getTime() + 10 * 60_000));
    await ctx.deliver();
    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["status", "reason"])
      .where("user_id", "=", userId)
      .execute();
    expect(rows.map((r) => r.reason ?? r.status).sort()).toEqual([
      "rule_frequency_cap",
      "sent",
    ]);
    const token = devices[0]?.token;
    expect(
      ctx.fakes.apns.received.filter((p) => p.token === token),
    ).toHaveLength(1);
  });

  it("when another process has a push of the rule in flight to the user as a waiting message comes due, then the rule's cap counts it", async () => {
    ctx.app.setNow(NOON);
    const { userId, devices } = await ctx.userWith("ios");
    await ctx.ping(userId, { n: 1 });
    await capPingAtOnePerDay();
    // What a process sending a fan-out of the rule records of a page not yet written.
    await ctx.database.db
      .insertInto("handed_pages")
      .values({
        page_id: `page-of-${userId}`,
        owner: "another-process",
        match_id: "another-match",
        rule_id: "ping",
        item_key: null,
        uncapped: false,
        users: [userId],
        until: new Date(NOON.getTime() + 3_600_000),
      })
      .execute();

    ctx.app.setNow(new Date(NOON.getTime() + 10 * 60_000));
    await ctx.deliver();

    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["status", "reason"])
      .where("user_id", "=", userId)
      .execute();
    expect(rows).toEqual([
      { status: "suppressed", reason: "rule_frequency_cap" },
    ]);
    const token = devices[0]?.token;
    expect(
      ctx.fakes.apns.received.filter((p) => p.token === token),
    ).toHaveLength(0);
  });
});
