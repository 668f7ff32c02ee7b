import { sql, type Kysely, type Transaction } from "kysely";
import type { DB } from "../db/schema.ts";
import { lockRollup } from "../stats/stats.repository.ts";

/*
 * The retention sweep's way through the notification history: old notifications, with
 * their deliveries, deleted rule by rule in chunks.
 */

/**
 * The rules that have notifications, at one index probe per rule (a loose scan of the
 * (rule_id, created_at) index): the way in to old notifications, which have no index on
 * their age alone.
 */
export async function rulesWithNotifications(
  db: Kysely<DB>,
): Promise<string[]> {
  const { rows } = await sql<{ rule_id: string }>`
    with recursive rules as (
      (select rule_id from notifications order by rule_id limit 1)
      union all
      select (select n.rule_id from notifications n where n.rule_id > r.rule_id
        order by n.rule_id limit 1)
      from rules r where r.rule_id is not null
    )
    select rule_id from rules where rule_id is not null`.execute(db);
  return rows.map((r) => r.rule_id);
}

/**
 * Deletes up to `limit` of a rule's notifications created before `cutoff`, the start
 * of an hour, with their deliveries; returns how many. The stats rollup keeps their
 * hours: the stale marks the deletion makes are dropped under the rollup's lock, so no
 * refresh recomputes those hours from what is left of them (nothing).
 */
export async function deleteNotificationsBefore(
  trx: Transaction<DB>,
  ruleId: string,
  cutoff: Date,
  limit: number,
): Promise<number> {
  await lockRollup(trx);
  const { rows } = await sql<{ deleted: number }>`
    with doomed as (
      select user_id, notification_id from notifications
      where rule_id = ${ruleId} and created_at < ${cutoff}
      limit ${limit}
    ), gone as (
      delete from notifications n using doomed d
      where n.user_id = d.user_id and n.notification_id = d.notification_id
      returning n.user_id, n.notification_id
    ), deliveries as (
      delete from deliveries x using gone g
      where x.user_id = g.user_id and x.notification_id = g.notification_id
    )
    select count(*)::int as deleted from gone`.execute(trx);
  await trx
    .deleteFrom("notification_stats_stale")
    .where("rule_id", "=", ruleId)
    .where("hour", "<", cutoff)
    .execute();
  return rows[0]?.deleted ?? 0;
}
