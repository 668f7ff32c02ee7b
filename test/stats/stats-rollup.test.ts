import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { emptyRuleBook } from "../../src/rules/rule-book.ts";
import {
  createStatsRollup,
  refreshStats,
} from "../../src/stats/stats-rollup.ts";
import { GroupBy, type StatsQuery } from "../../src/stats/stats.repository.ts";
import { ruleStats, type GroupStats } from "../../src/stats/stats.service.ts";
import type { DeliveryStatus, Platform } from "../../src/db/schema.ts";
import { connectAgain, useTestDatabase } from "../support/test-database.ts";
import { seededRandom } from "../support/seeded-random.ts";

const ctx = useTestDatabase();

const START = Date.parse("2026-03-01T00:00:00Z");
const HOUR = 3_600_000;
const at = (ms: number) => new Date(START + ms);

/** A notification as the test wrote it: what the stats must be computed from. */
type Written = {
  userId: string;
  id: string;
  ruleId: string;
  createdAt: Date;
  variant: string | null;
  timing: string | null;
  category: string | null;
  status: string;
  reason: string | null;
  deferred: boolean;
  received: boolean;
  opened: boolean;
  bounced: boolean;
  converted: boolean;
  deliveries: { platform: string; status: string }[];
};

const pick = <T>(draw: () => number, items: readonly T[]): T =>
  items[Math.floor(draw() * items.length)] as T;

const OUTCOMES = [
  ["pending", null],
  ["sending", null],
  ["sent", null],
  ["sent", null],
  ["sent", null],
  ["cancelled", "rule_removed"],
  ["suppressed", "holdout"],
  ["suppressed", "frequency_cap"],
  ["failed", "invalid_token"],
  ["failed", "PayloadTooLarge"],
] as const;

let serial = 0;

function generate(draw: () => number, count: number): Written[] {
  return Array.from({ length: count }, (): Written => {
    const [status, reason] = pick(draw, OUTCOMES);
    const sent = status === "sent";
    const deliveries =
      status === "sent" || status === "failed"
        ? Array.from({ length: 1 + Math.floor(draw() * 2) }, () => ({
            platform: pick(draw, ["apns", "fcm", "webpush"]),
            status:
              status === "failed"
                ? reason === "invalid_token"
                  ? "invalid_token"
                  : "failed"
                : pick(draw, ["sent", "sent", "sent", "invalid_token"]),
          }))
        : status === "pending" && draw() < 0.5
          ? [{ platform: "fcm", status: "retry" }]
          : [];
    serial++;
    return {
      userId: `user-${String(serial % 97)}`,
      id: `n-${String(serial)}`,
      ruleId: pick(draw, ["sale", "sale", "cart"]),
      // Minutes and seconds off the hour, so windows cut through buckets.
      createdAt: at(Math.floor(draw() * 72 * HOUR)),
      variant: pick(draw, ["a", "b", "holdout", null]),
      category: pick(draw, ["promotions", "orders", null]),
      status,
      reason,
      deferred: draw() < 0.3,
      received: sent && draw() < 0.8,
      opened: sent && draw() < 0.3,
      bounced: sent && draw() < 0.05,
      converted: sent && draw() < 0.1,
      deliveries,
      // Drawn last, so the draws before it are those of the rows it was added to.
      timing: pick(draw, ["optimized", "control", null]),
    };
  });
}

async function write(rows: readonly Written[]): Promise<void> {
  const { db } = ctx.database;
  const when = (flag: boolean, row: Written) => (flag ? row.createdAt : null);
  await db
    .insertInto("notifications")
    .values(
      rows.map((r) => ({
        user_id: r.userId,
        notification_id: r.id,
        match_id: `match-${r.id}`,
        rule_id: r.ruleId,
        rule_version: "v1",
        variant: r.variant,
        timing: r.timing,
        category: r.category,
        status: r.status,
        reason: r.reason,
        deferred_by: r.deferred ? "quiet_hours" : null,
        send_at: r.createdAt,
        content: sql<string>`null`,
        received_at: when(r.received, r),
        opened_at: when(r.opened, r),
        bounced_at: when(r.bounced, r),
        converted_at: when(r.converted, r),
        // As delivery records them beside the deliveries.
        platforms: [...new Set(r.deliveries.map((d) => d.platform))].sort(),
        invalid_token: r.deliveries.some((d) => d.status === "invalid_token"),
        created_at: r.createdAt,
        updated_at: r.createdAt,
      })),
    )
    .execute();
  const deliveries = rows.flatMap((r) =>
    r.deliveries.map((d, i) => ({
      user_id: r.userId,
      notification_id: r.id,
      device_id: `device-${String(i)}`,
      platform: d.platform as Platform,
      provider: d.platform,
      status: d.status as DeliveryStatus,
      reason: null,
      provider_message_id: null,
      attempts: 1,
      created_at: r.createdAt,
      updated_at: r.createdAt,
    })),
  );
  if (deliveries.length > 0)
    await db.insertInto("deliveries").values(deliveries).execute();
}

/** The stats computed here from what was written: what the API must answer. */
function expected(rows: readonly Written[], query: StatsQuery) {
  const groups = new Map<string, ReturnType<typeof comparable>>();
  const inWindow = rows.filter(
    (r) =>
      (query.ruleId === undefined || r.ruleId === query.ruleId) &&
      r.createdAt >= query.from &&
      r.createdAt < query.to,
  );
  for (const r of inWindow) {
    const platforms = [...new Set(r.deliveries.map((d) => d.platform))];
    const grouped =
      query.groupBy === GroupBy.variant
        ? [r.variant ?? "none"]
        : query.groupBy === GroupBy.category
          ? [r.category ?? "none"]
          : query.groupBy === GroupBy.day
            ? [r.createdAt.toISOString().slice(0, 10)]
            : query.groupBy === GroupBy.hour
              ? [`${r.createdAt.toISOString().slice(0, 13)}:00:00Z`]
              : query.groupBy === GroupBy.platform
                ? platforms.length === 0
                  ? ["none"]
                  : platforms
                : query.groupBy === GroupBy.timing
                  ? [r.timing ?? "none"]
                  : [query.byRule === true ? r.ruleId : "all"];
    // By rule, each group also names its rule.
    const ruleId = query.byRule === true ? r.ruleId : undefined;
    for (const group of grouped) {
      const key = `${ruleId ?? ""}/${group}`;
      const g = groups.get(key) ?? {
        ruleId,
        group,
        triggered: 0,
        deferred: 0,
        queued: 0,
        sent: 0,
        cancelled: 0,
        invalidToken: 0,
        received: 0,
        opened: 0,
        bounced: 0,
        converted: 0,
        suppressed: {},
        failed: {},
      };
      groups.set(key, g);
      g.triggered++;
      if (r.deferred) g.deferred++;
      if (r.status === "pending" || r.status === "sending") g.queued++;
      if (r.status === "sent") g.sent++;
      if (r.status === "cancelled") g.cancelled++;
      if (r.deliveries.some((d) => d.status === "invalid_token"))
        g.invalidToken++;
      if (r.received) g.received++;
      if (r.opened) g.opened++;
      if (r.bounced) g.bounced++;
      if (r.converted) g.converted++;
      if (r.status === "suppressed" || r.status === "failed") {
        const tally = g[r.status];
        const reason = r.reason ?? "unknown";
        tally[reason] = (tally[reason] ?? 0) + 1;
      }
    }
  }
  return [...groups.values()].sort(byRuleAndGroup);
}

const byRuleAndGroup = (
  x: { ruleId?: string | undefined; group: string },
  y: { ruleId?: string | undefined; group: string },
) =>
  (x.ruleId ?? "").localeCompare(y.ruleId ?? "") ||
  x.group.localeCompare(y.group);

function comparable(g: GroupStats) {
  return {
    ruleId: g.ruleId,
    group: g.group,
    triggered: g.triggered,
    deferred: g.deferred,
    queued: g.queued,
    sent: g.sent,
    cancelled: g.cancelled,
    invalidToken: g.invalidToken,
    received: g.received,
    opened: g.opened,
    bounced: g.bounced,
    converted: g.converted,
    suppressed: g.suppressed.byReason,
    failed: g.failed.byReason,
  };
}

async function answered(query: StatsQuery) {
  const stats = await ruleStats(ctx.database.db, emptyRuleBook(), query);
  return stats.groups.map(comparable).sort(byRuleAndGroup);
}

const WINDOWS: [string, Date, Date][] = [
  ["three whole days", at(0), at(72 * HOUR)],
  [
    "cut through hours at both ends",
    at(1.5 * HOUR + 17_000),
    at(50 * HOUR + 180_000),
  ],
  ["inside one hour", at(5 * HOUR + 600_000), at(5 * HOUR + 2_400_000)],
  ["across one hour's end", at(5 * HOUR + 3_000_000), at(6 * HOUR + 1_200_000)],
];
const GROUPINGS = [undefined, ...Object.values(GroupBy)];

async function expectExact(rows: readonly Written[]): Promise<void> {
  for (const [, from, to] of WINDOWS)
    for (const groupBy of GROUPINGS)
      for (const ruleId of ["sale", undefined])
        for (const byRule of [false, true]) {
          const query = { ruleId, from, to, groupBy, byRule };
          expect(await answered(query), JSON.stringify(query)).toEqual(
            expected(rows, query),
          );
        }
}

async function staleMarks(): Promise<number> {
  const { rows } = await sql<{ count: number }>`
    select count(*)::int as count from notification_stats_stale`.execute(
    ctx.database.db,
  );
  return rows[0]?.count ?? 0;
}

describe("the hourly stats rollup", () => {
  it("when notifications are written, changed and deleted between queries, then every window and grouping counts exactly what is stored", async () => {
    const draw = seededRandom(7);
    const rows = generate(draw, 600);
    await write(rows);
    await expectExact(rows);

    // Feedback on rows whose hours are rolled up already, then erasures, then more.
    const { db } = ctx.database;
    const opened = rows.filter((r) => r.status === "sent").slice(0, 40);
    await db
      .updateTable("notifications")
      .set({ opened_at: at(0) })
      .where(
        "notification_id",
        "in",
        opened.map((r) => r.id),
      )
      .execute();
    for (const r of opened) r.opened = true;
    const erased = "user-5";
    await db
      .deleteFrom("notifications")
      .where("user_id", "=", erased)
      .execute();
    const more = generate(draw, 200);
    await write(more);
    await expectExact([...rows.filter((r) => r.userId !== erased), ...more]);
  });

  it("when two refreshes run at once, then each bucket is rolled up once", async () => {
    const { db } = ctx.database;
    // Every bucket stale again, as after the migration that added the rollup.
    await sql`insert into notification_stats_stale (rule_id, hour)
      select distinct rule_id, date_trunc('hour', created_at, 'UTC')
      from notifications`.execute(db);
    const other = await connectAgain(ctx.database);
    try {
      await Promise.all([refreshStats(db, {}), refreshStats(other.db, {})]);
    } finally {
      await other.close();
    }
    expect(await staleMarks()).toBe(0);
    const { rows } = await sql<{ duplicates: number }>`
      select count(*)::int as duplicates from (
        select from notification_stats_hourly
        group by rule_id, hour, variant, timing, category, platforms, status,
          reason, deferred, invalid_token
        having count(*) > 1) d`.execute(db);
    expect(rows[0]?.duplicates).toBe(0);
  });

  it("when the background refresher runs, then it rolls up every stale bucket", async () => {
    await write(generate(seededRandom(11), 100));
    expect(await staleMarks()).toBeGreaterThan(0);
    const rollup = createStatsRollup({
      db: ctx.database.db,
      logger: createLogger("silent"),
    });
    rollup.start();
    try {
      await expect.poll(staleMarks, { timeout: 5_000 }).toBe(0);
    } finally {
      await rollup.stop();
    }
  });
});
