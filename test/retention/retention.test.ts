import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { createRetention } from "../../src/retention/retention.ts";
import { emptyRuleBook } from "../../src/rules/rule-book.ts";
import { refreshStats } from "../../src/stats/stats-rollup.ts";
import { GroupBy } from "../../src/stats/stats.repository.ts";
import { ruleStats } from "../../src/stats/stats.service.ts";
import { uniqueId, useTestDatabase } from "../support/test-database.ts";

const ctx = useTestDatabase();

const NOW = new Date("2026-06-30T12:30:00Z");
const DAY_MS = 86_400_000;

function retention() {
  return createRetention({
    db: ctx.database.db,
    logger: createLogger("silent"),
    clock: () => NOW,
    eventDays: 7,
    notificationDays: 30,
  });
}

async function insertEvent(receivedAt: Date): Promise<string> {
  const messageId = uniqueId("msg");
  await ctx.database.db
    .insertInto("events")
    .values({
      message_id: messageId,
      user_id: uniqueId("user"),
      type: "track",
      event: "Seen",
      payload: "{}",
      timestamp: receivedAt,
      received_at: receivedAt,
    })
    .execute();
  return messageId;
}

/** A notification as delivery leaves it, with its one delivery when it was tried. */
async function insertNotification(
  ruleId: string,
  createdAt: string,
  outcome: "sent" | "invalid_token" | "holdout",
): Promise<string> {
  const { db } = ctx.database;
  const at = new Date(createdAt);
  const userId = uniqueId("user");
  const id = uniqueId("n");
  const tried = outcome !== "holdout";
  await db
    .insertInto("notifications")
    .values({
      user_id: userId,
      notification_id: id,
      match_id: uniqueId("match"),
      rule_id: ruleId,
      rule_version: "v1",
      variant: outcome === "holdout" ? "holdout" : "a",
      status:
        outcome === "sent"
          ? "sent"
          : outcome === "holdout"
            ? "suppressed"
            : "failed",
      reason:
        outcome === "sent" ? null : outcome === "holdout" ? "holdout" : outcome,
      send_at: at,
      content: "{}",
      opened_at: outcome === "sent" ? at : null,
      platforms: tried ? ["apns"] : [],
      invalid_token: outcome === "invalid_token",
      created_at: at,
      updated_at: at,
    })
    .execute();
  if (tried) {
    await db
      .insertInto("deliveries")
      .values({
        user_id: userId,
        notification_id: id,
        device_id: "device",
        platform: "apns",
        provider: "apns",
        status: outcome === "sent" ? "sent" : "invalid_token",
        reason: null,
        provider_message_id: null,
        attempts: 1,
        created_at: at,
        updated_at: at,
      })
      .execute();
  }
  return id;
}

async function insertMatch(
  status: "expanded" | "pending",
  createdAt: Date,
): Promise<string> {
  const matchId = uniqueId("match");
  await ctx.database.db
    .insertInto("rule_matches")
    .values({
      match_id: matchId,
      rule_id: "sale",
      rule_version: "v1",
      trigger_message_id: uniqueId("msg"),
      event: "{}",
      status,
      triggered_at: createdAt,
      created_at: createdAt,
      updated_at: createdAt,
    })
    .execute();
  return matchId;
}

async function insertDisabling(disabledAt: Date): Promise<string> {
  const userId = uniqueId("user");
  await ctx.database.db
    .insertInto("device_disablings")
    .values({
      user_id: userId,
      device_id: "device",
      platform: "apns",
      token: "token",
      provider: "apns",
      reason: "Unregistered",
      notification_id: "n",
      disabled_at: disabledAt,
    })
    .execute();
  return userId;
}

/** May's stats, whole hours only: what the rollup must keep once May is deleted. */
async function mayStats() {
  const { db } = ctx.database;
  const window = {
    from: new Date("2026-05-01T00:00:00Z"),
    to: new Date("2026-06-01T00:00:00Z"),
  };
  return Promise.all(
    [
      { ruleId: "sale", groupBy: GroupBy.variant },
      { ruleId: "sale", groupBy: GroupBy.platform },
      { ruleId: undefined, groupBy: GroupBy.day },
    ].map(
      async (query) =>
        (await ruleStats(db, emptyRuleBook(), { ...query, ...window })).groups,
    ),
  );
}

describe("retention", () => {
  it("when events are older than the retention window, then a sweep deletes them and keeps the rest", async () => {
    const old = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        insertEvent(new Date(NOW.getTime() - (8 + i) * DAY_MS)),
      ),
    );
    const recent = await insertEvent(new Date(NOW.getTime() - 6 * DAY_MS));

    expect((await retention().sweep()).events).toBe(3);

    const left = await ctx.database.db
      .selectFrom("events")
      .select("message_id")
      .where("message_id", "in", [...old, recent])
      .execute();
    expect(left.map((row) => row.message_id)).toEqual([recent]);
    expect((await retention().sweep()).events).toBe(0);
  });

  it("when notifications are older than the retention window, then they go with their deliveries, planned matches and audits, and their stats stay", async () => {
    const { db } = ctx.database;
    // The cutoff is 30 days before NOW, at the start of its hour: 2026-05-31T12:00Z.
    const doomed = [
      await insertNotification("sale", "2026-05-20T10:15:00Z", "sent"),
      await insertNotification("sale", "2026-05-20T10:45:00Z", "holdout"),
      await insertNotification("cart", "2026-05-25T08:00:00Z", "invalid_token"),
      await insertNotification("sale", "2026-05-31T11:50:00Z", "sent"),
    ];
    const kept = [
      await insertNotification("sale", "2026-05-31T12:10:00Z", "sent"),
      await insertNotification("sale", "2026-06-29T09:00:00Z", "sent"),
    ];
    const oldDay = new Date("2026-05-20T00:00:00Z");
    const planned = await insertMatch("expanded", oldDay);
    const stillPending = await insertMatch("pending", oldDay);
    const recentMatch = await insertMatch("expanded", NOW);
    const oldDisabling = await insertDisabling(oldDay);
    const recentDisabling = await insertDisabling(NOW);
    const before = await mayStats();
    // Feedback since the stats were last read: the sweep must not lose it.
    await db
      .updateTable("notifications")
      .set({ received_at: NOW })
      .where("notification_id", "=", doomed[0] ?? "")
      .execute();

    expect(await retention().sweep()).toMatchObject({
      notifications: 4,
      matches: 1,
      disablings: 1,
    });

    const ids = [...doomed, ...kept];
    const notifications = await db
      .selectFrom("notifications")
      .select("notification_id")
      .where("notification_id", "in", ids)
      .execute();
    expect(notifications.map((n) => n.notification_id).sort()).toEqual(
      [...kept].sort(),
    );
    const deliveries = await db
      .selectFrom("deliveries")
      .select("notification_id")
      .where("notification_id", "in", ids)
      .execute();
    expect(deliveries.map((d) => d.notification_id).sort()).toEqual(
      [...kept].sort(),
    );
    const matches = await db
      .selectFrom("rule_matches")
      .select("match_id")
      .where("match_id", "in", [planned, stillPending, recentMatch])
      .execute();
    expect(matches.map((m) => m.match_id).sort()).toEqual(
      [stillPending, recentMatch].sort(),
    );
    const disablings = await db
      .selectFrom("device_disablings")
      .select("user_id")
      .where("user_id", "in", [oldDisabling, recentDisabling])
      .execute();
    expect(disablings.map((d) => d.user_id)).toEqual([recentDisabling]);

    const after = await mayStats();
    const receivedBy = (stats: typeof before) =>
      stats[0]?.find((g) => g.group === "a")?.received;
    expect(receivedBy(after)).toBe((receivedBy(before) ?? 0) + 1);
    expect(after[0]?.map((g) => [g.group, g.triggered])).toEqual([
      ["a", 3],
      ["holdout", 1],
    ]);
    // Nothing left for a refresh to recompute those hours from, and none does.
    const { rows } = await sql<{ stale: number }>`
      select count(*)::int as stale from notification_stats_stale
      where hour < '2026-05-31T12:00:00Z'`.execute(db);
    expect(rows[0]?.stale).toBe(0);
    await refreshStats(db, {});
    expect(await mayStats()).toEqual(after);
    expect(await retention().sweep()).toMatchObject({
      notifications: 0,
      matches: 0,
      disablings: 0,
    });
  });
});
