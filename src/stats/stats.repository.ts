import { sql, type Kysely, type RawBuilder } from "kysely";
import { NotificationStatus, type DB } from "../db/schema.ts";

export const GroupBy = {
  variant: "variant",
  platform: "platform",
  day: "day",
  category: "category",
} as const;
export type GroupBy = (typeof GroupBy)[keyof typeof GroupBy];

export type StatsQuery = {
  ruleId: string | undefined;
  from: Date;
  to: Date;
  groupBy: GroupBy | undefined;
};

export type GroupCounts = {
  group: string;
  triggered: number;
  deferred: number;
  queued: number;
  sent: number;
  cancelled: number;
  invalidToken: number;
  received: number;
  opened: number;
  bounced: number;
  converted: number;
};

export type ReasonCount = {
  group: string;
  status: string;
  reason: string;
  count: number;
};

/**
 * The group a notification falls in. By platform, a notification counts once for each
 * platform it was delivered to (or tried), and under "none" when it reached no
 * device; the other groupings count each notification once.
 */
function groupKey(groupBy: GroupBy | undefined): RawBuilder<string> {
  switch (groupBy) {
    case undefined:
      return sql<string>`'all'`;
    case GroupBy.variant:
      return sql<string>`coalesce(n.variant, 'none')`;
    case GroupBy.category:
      return sql<string>`coalesce(n.category, 'none')`;
    case GroupBy.day:
      return sql<string>`to_char(n.created_at at time zone 'UTC', 'YYYY-MM-DD')`;
    case GroupBy.platform:
      return sql<string>`coalesce(d.platform, 'none')`;
  }
}

function fromNotifications(query: StatsQuery): RawBuilder<unknown> {
  const platforms =
    query.groupBy === GroupBy.platform
      ? sql`left join (select distinct user_id, notification_id, platform from deliveries) d
          on d.user_id = n.user_id and d.notification_id = n.notification_id`
      : sql``;
  const rule =
    query.ruleId === undefined ? sql`true` : sql`n.rule_id = ${query.ruleId}`;
  return sql`from notifications n ${platforms}
    where ${rule} and n.created_at >= ${query.from} and n.created_at < ${query.to}`;
}

/** Per group, the funnel's counts, in one pass over the rule's notifications. */
export async function countFunnel(
  db: Kysely<DB>,
  query: StatsQuery,
): Promise<GroupCounts[]> {
  const S = NotificationStatus;
  const { rows } = await sql<GroupCounts>`
    select ${groupKey(query.groupBy)} as "group",
      count(*)::int as triggered,
      count(*) filter (where n.deferred_by is not null)::int as deferred,
      count(*) filter (where n.status in (${S.pending}, ${S.sending}))::int as queued,
      count(*) filter (where n.status = ${S.sent})::int as sent,
      count(*) filter (where n.status = ${S.cancelled})::int as cancelled,
      -- The dead-token deliveries are read once (a hashed subplan on their partial
      -- index), not probed once per notification as EXISTS would.
      count(*) filter (where (n.user_id, n.notification_id) in (
        select user_id, notification_id from deliveries
        where status = 'invalid_token'))::int as "invalidToken",
      count(n.received_at)::int as received,
      count(n.opened_at)::int as opened,
      count(n.bounced_at)::int as bounced,
      count(n.converted_at)::int as converted
    ${fromNotifications(query)}
    group by 1 order by 1`.execute(db);
  return rows;
}

/** Per group, the notifications suppressed, cancelled or failed, by reason. */
export async function countReasons(
  db: Kysely<DB>,
  query: StatsQuery,
): Promise<ReasonCount[]> {
  const S = NotificationStatus;
  const { rows } = await sql<ReasonCount>`
    select ${groupKey(query.groupBy)} as "group", n.status,
      coalesce(n.reason, 'unknown') as reason, count(*)::int as count
    ${fromNotifications(query)}
      and n.status in (${S.suppressed}, ${S.failed})
    group by 1, 2, 3 order by 1, 2, 3`.execute(db);
  return rows;
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
