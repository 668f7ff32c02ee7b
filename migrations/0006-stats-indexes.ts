import { sql, type Kysely } from "kysely";

/*
 * Indexes for the stats queries (measured with bench/stats.ts): the notifications
 * with a dead-token delivery, read once per query instead of probed once per row, and
 * a rule's held-out recipients, whose conversions are the baseline.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("deliveries_invalid_token_idx")
    .on("deliveries")
    .columns(["user_id", "notification_id"])
    .where(sql.ref("status"), "=", "invalid_token")
    .execute();
  await sql`
    create index notifications_holdout_idx on notifications (rule_id, created_at)
    include (user_id) where status = 'suppressed' and reason = 'holdout'`.execute(
    db,
  );
}
