import { describe, expect, it } from "vitest";
import { assignVariant } from "../../src/rules/variant.ts";
import { twoProportionPValue } from "../../src/stats/significance.ts";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const variants = [
  { id: "a", weight: 50 },
  { id: "b", weight: 50 },
];
const rules = {
  rules: [
    {
      id: "ping",
      trigger: 'event = "Ping"',
      delivery: { quietHours: false },
      message: { title: "Hi", body: "There" },
      variants,
      holdout: 0.2,
      conversion: { event: "Order Completed", within: "1h" },
    },
  ],
};

const ctx = useTestApp({ rules });

const NOON = new Date("2026-07-01T12:00:00Z");
const minutes = (n: number) => new Date(NOON.getTime() + n * 60_000);

function userIn(arm: string): string {
  for (;;) {
    const id = uniqueId(arm);
    if (assignVariant("ping", id, variants, 0.2) === arm) return id;
  }
}

async function send(...events: Record<string, unknown>[]) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((e) => ({ messageId: uniqueId("msg"), ...e })),
  });
  expect(response.status).toBe(200);
  expect(response.body.rejected).toEqual([]);
}

const track = (userId: string, event: string, at: Date, properties = {}) => ({
  type: "track",
  userId,
  event,
  timestamp: at.toISOString(),
  properties,
});

async function stats(query: string) {
  const response = await ctx.app.request(
    "GET",
    `/v1/stats?ruleId=ping&from=2026-07-01&to=2026-07-02${query}`,
    { admin: true },
  );
  expect(response.status).toBe(200);
  return response.body;
}

describe("GET /v1/stats", () => {
  it("when a campaign ran with variants and a holdout, then the figures per variant are exactly what happened", async () => {
    ctx.app.setNow(NOON);
    const [a1, a2, aNoDevice] = [userIn("a"), userIn("a"), userIn("a")];
    const [b1, b2, b3] = [userIn("b"), userIn("b"), userIn("b")];
    const [held1, held2] = [userIn("holdout"), userIn("holdout")];
    const withPhone = [a1, a2, b1, b2, b3, held1, held2];
    await send(
      ...withPhone.map((userId) => ({
        type: "identify",
        userId,
        context: { device: { type: "ios", token: apnsToken() } },
      })),
      { type: "identify", userId: aNoDevice },
    );
    await send(...[...withPhone, aNoDevice].map((u) => track(u, "Ping", NOON)));
    await ctx.app.deps.planner.drain();
    await ctx.app.deps.delivery.drain();

    const nudgeIdOf = async (userId: string) =>
      (
        await ctx.database.db
          .selectFrom("notifications")
          .select("notification_id")
          .where("user_id", "=", userId)
          .executeTakeFirstOrThrow()
      ).notification_id;
    const tap = async (userId: string) =>
      track(userId, "Push Notification Tapped", minutes(1), {
        nudge_id: await nudgeIdOf(userId),
      });
    await send(await tap(a1), await tap(b1), await tap(b2));
    await send(
      track(a1, "Order Completed", minutes(5)),
      track(b1, "Order Completed", minutes(5)),
      // No push, yet they buy: the baseline.
      track(held1, "Order Completed", minutes(5)),
    );

    const byVariant = await stats("&groupBy=variant");
    const group = (name: string) =>
      byVariant.groups.find((g: { group: string }) => g.group === name);
    expect(group("a")).toMatchObject({
      triggered: 3,
      suppressed: { total: 1, byReason: { no_device: 1 } },
      targeted: 2,
      sent: 2,
      failed: { total: 0, byReason: {} },
      queued: 0,
      received: 1,
      opened: 1,
      converted: 1,
      rates: { delivery: 1, open: 0.5, conversion: 0.5 },
    });
    expect(group("b")).toMatchObject({
      triggered: 3,
      targeted: 3,
      sent: 3,
      opened: 2,
      converted: 1,
      rates: { delivery: 1, open: 2 / 3, conversion: 1 / 3 },
    });
    expect(group("b").lift).toBeCloseTo(1 / 3 / 0.5 - 1, 10);
    expect(group("b").pValue).toBeCloseTo(
      twoProportionPValue(1, 3, 1, 2) ?? Number.NaN,
      10,
    );
    expect(group("holdout")).toMatchObject({
      triggered: 2,
      suppressed: { total: 2, byReason: { holdout: 2 } },
      sent: 0,
    });
    expect(byVariant.holdout).toEqual({
      held: 2,
      converted: 1,
      conversionRate: 0.5,
    });

    const all = await stats("");
    expect(all.groups).toEqual([
      expect.objectContaining({
        group: "all",
        triggered: 8,
        targeted: 5,
        sent: 5,
        opened: 3,
        converted: 2,
      }),
    ]);
    const byPlatform = await stats("&groupBy=platform");
    expect(
      byPlatform.groups.map((g: { group: string; sent: number }) => [
        g.group,
        g.sent,
      ]),
    ).toEqual([
      ["apns", 5],
      ["none", 0],
    ]);
    const byDay = await stats("&groupBy=day");
    expect(byDay.groups.map((g: { group: string }) => g.group)).toEqual([
      "2026-07-01",
    ]);
    // Outside the window: nothing.
    const later = await ctx.app.request(
      "GET",
      "/v1/stats?ruleId=ping&from=2026-07-02&to=2026-07-03",
      { admin: true },
    );
    expect(later.body.groups).toEqual([]);
  });

  it("when the query is bad, then 400 invalid_query", async () => {
    for (const query of [
      "groupBy=colour",
      "from=yesterday",
      "from=2026-07-02&to=2026-07-01",
      // Times PostgreSQL cannot be asked about (year 0), or the week before them.
      "from=0000-01-01",
      "to=0001-01-02",
      "from=0001-01-01T00:00:00%2B01:00&to=2026-01-01",
    ]) {
      const response = await ctx.app.request("GET", `/v1/stats?${query}`, {
        admin: true,
      });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("invalid_query");
    }
    const garbage = await ctx.app.request("GET", "/v1/stats?from=garbage", {
      admin: true,
    });
    expect(garbage.body.error.message).toContain(
      "from: must be an ISO date or instant",
    );
  });
});
