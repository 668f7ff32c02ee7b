import { sql, type Kysely } from "kysely";

/*
 * Learned send time (delivery.window.optimize). A notification records which arm of
 * the send-time test it was in, `optimized` or `control` (null for rules that do not
 * learn), and the stats rollup keeps it as a dimension, as it keeps the variant, so
 * `GET /v1/stats?groupBy=timing` reads whole hours from the rollup like every grouping.
 * Rollup rows from before have no arm, rightly: no notification had one.
 *
 * Planning reads each recipient's opens, and a sample of the app's latest opens, from
 * the notifications. Both indexes hold opened notifications only, a small share of the
 * table, so they cost a write only when an open is recorded:
 * - (user_id, opened_at): a page's users' opens, one index range per user, instead of
 *   every notification the user had in the look-back (caps and dedupe's index);
 * - (opened_at): the app's latest opens, read backwards from now, instead of a scan.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table notifications add column timing text
      check (timing in ('optimized', 'control'))`.execute(db);
  await db.schema
    .alterTable("notification_stats_hourly")
    .addColumn("timing", "text")
    .execute();
  await sql`
    create index notifications_user_opened_idx on notifications (user_id, opened_at)
    where opened_at is not null`.execute(db);
  await sql`
    create index notifications_opened_idx on notifications (opened_at)
    where opened_at is not null`.execute(db);
}
