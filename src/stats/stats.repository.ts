import { sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import { NotificationStatus, type DB } from "../db/schema.ts";

export const GroupBy = {
  variant: "variant",
  platform: "platform",
  day: "day",
  hour: "hour",
  category: "category",
  timing: "timing",
} as const;
export type GroupBy = (typeof GroupBy)[keyof typeof GroupBy];

export type StatsQuery = {
  ruleId: string | undefined;
  from: Date;
  to: Date;
  groupBy: GroupBy | undefined;
  /** Each rule's groups apart (the rule × day of a dashboard), in one query for all rules. */
  byRule?: boolean | undefined;
};

/**
 * Notifications of one group counted by what happened to them: the rows the stats are
 * folded from.
 */
export type OutcomeCount = {
  /** Null unless the query counts by rule. */
  ruleId: string | null;
  group: string;
  status: string;
  reason: string | null;
  deferred: boolean;
  invalidToken: boolean;
  /** The button tapped, for opened notifications tapped on one. */
  action: string | null;
  notifications: number;
  received: number;
  opened: number;
  bounced: number;
  converted: number;
};

const HOUR_MS = 3_600_000;
/** The start of the UTC hour `at` is in: the rollup's buckets begin there. */
export const floorHour = (at: Date) =>
  new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
const ceilHour = (at: Date) =>
  new Date(Math.ceil(at.getTime() / HOUR_MS) * HOUR_MS);

/** Any constant will do: it names the one lock that rollup writers take turns on. */
const ROLLUP_LOCK = 7_106_053;

/**
 * Waits for, then holds until the transaction ends, the lock that every writer of the
 * rollup takes: refreshes and the retention sweep.
 */
export async function lockRollup(trx: Transaction<DB>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${ROLLUP_LOCK})`.execute(trx);
}

const ROLLUP_COLUMNS = sql.raw(
  [
    "rule_id",
    "hour",
    "variant",
    "timing",
    "category",
    "platforms",
    "status",
    "reason",
    "deferred",
    "invalid_token",
    "opened_action",
    "notifications",
    "received",
    "opened",
    "bounced",
    "converted",
  ].join(", "),
);

/** Notifications of one rule created in [from, to). */
type Range = { ruleId: string; from: Date; to: Date };

/**
 * The rollup's rows (in ROLLUP_COLUMNS order) of the notifications in `ranges`. Each
 * range is an index range scan: a join on the ranges would be planned as a scan of
 * every notification.
 */
function rollupOf(ranges: readonly Range[]): RawBuilder<unknown> {
  const within = ranges.map(
    (r) => sql`(n.rule_id = ${r.ruleId}
      and n.created_at >= ${r.from} and n.created_at < ${r.to})`,
  );
  return sql`
    select n.rule_id, date_trunc('hour', n.created_at, 'UTC') as hour, n.variant,
      n.timing, n.category, n.platforms, n.status, n.reason,
      n.deferred_by is not null as deferred, n.invalid_token, n.opened_action,
      count(*)::int as notifications, count(n.received_at)::int as received,
      count(n.opened_at)::int as opened, count(n.bounced_at)::int as bounced,
      count(n.converted_at)::int as converted
    from notifications n
    where ${sql.join(within, sql` or `)}
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11`;
}

/**
 * Takes up to `limit` stale buckets (of one rule and window, when given) off the stale
 * marks and recomputes their rollup rows; returns how many it took. A bucket is a
 * rule's notifications created in one UTC hour. Refreshes take turns: one waits for
 * another to commit, so a stats query that refreshed its buckets never reads a rollup
 * that a concurrent refresh is halfway through rewriting.
 */
export async function refreshStaleBuckets(
  trx: Transaction<DB>,
  scope: { ruleId?: string | undefined; from?: Date; to?: Date },
  limit: number,
): Promise<number> {
  await lockRollup(trx);
  const conditions = [sql`true`];
  if (scope.ruleId !== undefined)
    conditions.push(sql`rule_id = ${scope.ruleId}`);
  if (scope.from !== undefined)
    conditions.push(sql`hour >= ${floorHour(scope.from)}`);
  if (scope.to !== undefined) conditions.push(sql`hour < ${scope.to}`);
  const { rows } = await sql<{ rule_id: string; hour: Date }>`
    with picked as (
      select distinct rule_id, hour from notification_stats_stale
      where ${sql.join(conditions, sql` and `)}
      limit ${limit}
    )
    delete from notification_stats_stale s using picked p
    where s.rule_id = p.rule_id and s.hour = p.hour
    returning s.rule_id, s.hour`.execute(trx);
  // A bucket marked many times comes back once per mark.
  const buckets = new Map<string, { rule_id: string; hour: Date }>();
  for (const row of rows)
    buckets.set(`${row.rule_id}@${row.hour.toISOString()}`, row);
  if (buckets.size === 0) return 0;

  const b = jsonRows(
    [...buckets.values()].map((bucket) => ({
      rule_id: bucket.rule_id,
      hour: isoTime(bucket.hour),
    })),
    { rule_id: "text", hour: "timestamptz" },
    "b",
  );
  await sql`
    delete from notification_stats_hourly h using ${b}
    where h.rule_id = b.rule_id and h.hour = b.hour`.execute(trx);
  const ranges = [...buckets.values()].map(({ rule_id, hour }) => ({
    ruleId: rule_id,
    from: hour,
    to: new Date(hour.getTime() + HOUR_MS),
  }));
  await sql`
    insert into notification_stats_hourly (${ROLLUP_COLUMNS})
    ${rollupOf(ranges)}`.execute(trx);
  return buckets.size;
}

/**
 * The group of a rollup row `o`. By platform, a notification counts once for each
 * platform it was delivered to (or tried), and under "none" when it reached no
 * device; the other groupings count each notification once.
 */
function groupKey(groupBy: GroupBy | undefined): RawBuilder<string> {
  switch (groupBy) {
    case undefined:
      return sql<string>`'all'`;
    case GroupBy.variant:
      return sql<string>`coalesce(o.variant, 'none')`;
    case GroupBy.category:
      return sql<string>`coalesce(o.category, 'none')`;
    case GroupBy.timing:
      return sql<string>`coalesce(o.timing, 'none')`;
    case GroupBy.day:
      return sql<string>`to_char(o.hour at time zone 'UTC', 'YYYY-MM-DD')`;
    case GroupBy.hour:
      return sql<string>`to_char(o.hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"')`;
    case GroupBy.platform:
      return sql<string>`p.platform`;
  }
}

/**
 * The notifications of the query's window counted by group and outcome: whole hours
 * from the rollup, which must be fresh (refreshStaleBuckets), and the partial hours at
 * either end from the notifications themselves.
 */
export async function countOutcomes(
  db: Kysely<DB>,
  query: StatsQuery,
): Promise<OutcomeCount[]> {
  const firstHour = ceilHour(query.from);
  const endHour = floorHour(query.to);
  const parts: RawBuilder<unknown>[] = [];
  if (firstHour < endHour) {
    const rule =
      query.ruleId === undefined ? sql`true` : sql`h.rule_id = ${query.ruleId}`;
    parts.push(sql`
      select ${ROLLUP_COLUMNS} from notification_stats_hourly h
      where ${rule} and h.hour >= ${firstHour} and h.hour < ${endHour}`);
  }
  // The partial hours at either end (or the one or two a short window touches),
  // each within one bucket.
  const edges = [
    { from: query.from, to: new Date(Math.min(+firstHour, +query.to)) },
    { from: new Date(Math.max(+endHour, +firstHour)), to: query.to },
  ].filter((edge) => edge.from < edge.to);
  const ranges: Range[] = [];
  for (const edge of edges) {
    const rules =
      query.ruleId === undefined
        ? await rulesOf(db, floorHour(edge.from))
        : [query.ruleId];
    for (const ruleId of rules) ranges.push({ ruleId, ...edge });
  }
  if (ranges.length > 0) parts.push(rollupOf(ranges));
  if (parts.length === 0) return [];
  const platforms =
    query.groupBy === GroupBy.platform
      ? sql`cross join lateral unnest(case when cardinality(o.platforms) = 0
          then array['none'] else o.platforms end) as p(platform)`
      : sql``;
  const ruleKey = query.byRule === true ? sql`o.rule_id` : sql`null::text`;
  const { rows } = await sql<OutcomeCount>`
    select ${ruleKey} as "ruleId", ${groupKey(query.groupBy)} as "group", o.status,
      o.reason, o.deferred, o.invalid_token as "invalidToken",
      o.opened_action as "action",
      sum(o.notifications)::int as notifications,
      sum(o.received)::int as received, sum(o.opened)::int as opened,
      sum(o.bounced)::int as bounced, sum(o.converted)::int as converted
    from (${sql.join(parts, sql` union all `)}) o ${platforms}
    group by 1, 2, 3, 4, 5, 6, 7 order by 1, 2`.execute(db);
  return rows;
}

/** The rules with notifications in an hour, from its (fresh) rollup. */
async function rulesOf(db: Kysely<DB>, hour: Date): Promise<string[]> {
  const rows = await db
    .selectFrom("notification_stats_hourly")
    .select("rule_id")
    .distinct()
    .where("hour", "=", hour)
    .execute();
  return rows.map((r) => r.rule_id);
}

/**
 * For the holdout, who get no push: how many did the conversion event anyway within
 * the window after the trigger. The baseline a push must beat.
 */
export async function countHoldoutConversions(
  db: Kysely<DB>,
  query: StatsQuery & { ruleId: string },
  conversion: { event: string; withinMs: number },
): Promise<{ held: number; converted: number }> {
  const { rows } = await sql<{ held: number; converted: number }>`
    select count(*)::int as held,
      count(*) filter (where exists (
        select from events e
        where e.user_id = n.user_id and e.event = ${conversion.event}
          and e.received_at >= n.created_at
          and e.received_at <= n.created_at + ${`${String(conversion.withinMs)} milliseconds`}::interval
      ))::int as converted
    from notifications n
    where n.rule_id = ${query.ruleId} and n.created_at >= ${query.from}
      and n.created_at < ${query.to}
      and n.status = ${NotificationStatus.suppressed} and n.reason = 'holdout'`.execute(
    db,
  );
  return rows[0] ?? { held: 0, converted: 0 };
}
