import { sql, type Kysely } from "kysely";

/*
 * The stats API reads an hourly rollup of notifications instead of the notifications
 * themselves, so a month of a busy rule is a few thousand rows (bench/stats.ts).
 *
 * Every statement that writes notifications marks the (rule, hour) buckets it touched
 * as stale, through statement-level triggers: no write path can forget to, and a batch
 * of 500 rows costs one small insert. Stats workers recompute stale buckets from the
 * notifications in the background, and a stats query first recomputes the stale
 * buckets it is about to read, so its answer is always exact.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // What the rollup needs of a notification's deliveries, kept on the notification
  // when its outcomes are recorded, so the rollup reads no other table.
  await db.schema
    .alterTable("notifications")
    .addColumn("platforms", sql`text[]`, (c) =>
      c.notNull().defaultTo(sql`'{}'`),
    )
    .addColumn("invalid_token", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`
    update notifications n
    set platforms = d.platforms, invalid_token = d.invalid_token
    from (
      select user_id, notification_id,
        array_agg(distinct platform order by platform) as platforms,
        bool_or(status = 'invalid_token') as invalid_token
      from deliveries group by 1, 2
    ) d
    where n.user_id = d.user_id and n.notification_id = d.notification_id`.execute(
    db,
  );

  await db.schema
    .createTable("notification_stats_hourly")
    .addColumn("rule_id", "text", (c) => c.notNull())
    // The UTC hour the notifications were created in.
    .addColumn("hour", "timestamptz", (c) => c.notNull())
    .addColumn("variant", "text")
    .addColumn("category", "text")
    // The platforms of the notifications' deliveries, sorted; empty when none.
    .addColumn("platforms", sql`text[]`, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("deferred", "boolean", (c) => c.notNull())
    .addColumn("invalid_token", "boolean", (c) => c.notNull())
    .addColumn("notifications", "integer", (c) => c.notNull())
    .addColumn("received", "integer", (c) => c.notNull())
    .addColumn("opened", "integer", (c) => c.notNull())
    .addColumn("bounced", "integer", (c) => c.notNull())
    .addColumn("converted", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("notification_stats_hourly_rule_hour_idx")
    .on("notification_stats_hourly")
    .columns(["rule_id", "hour"])
    .execute();
  await db.schema
    .createIndex("notification_stats_hourly_hour_idx")
    .on("notification_stats_hourly")
    .column("hour")
    .execute();

  // Append-only marks (no key, so concurrent writers never wait on each other); a
  // bucket may be marked many times until it is recomputed.
  await db.schema
    .createTable("notification_stats_stale")
    .addColumn("rule_id", "text", (c) => c.notNull())
    .addColumn("hour", "timestamptz", (c) => c.notNull())
    .execute();
  await sql`
    create function mark_notification_stats_stale() returns trigger
    language plpgsql as $$
    begin
      insert into notification_stats_stale (rule_id, hour)
      select distinct rule_id, date_trunc('hour', created_at, 'UTC') from changed;
      return null;
    end $$`.execute(db);
  // A trigger with a transition table handles one kind of statement.
  for (const [event, table] of [
    ["insert", "new"],
    ["update", "new"],
    ["delete", "old"],
  ] as const) {
    await sql`
      create trigger ${sql.raw(`notifications_stats_${event}`)}
      after ${sql.raw(event)} on notifications
      referencing ${sql.raw(table)} table as changed
      for each statement execute function mark_notification_stats_stale()`.execute(
      db,
    );
  }
  // Notifications written before this migration are rolled up by the first workers.
  await sql`
    insert into notification_stats_stale (rule_id, hour)
    select distinct rule_id, date_trunc('hour', created_at, 'UTC')
    from notifications`.execute(db);
}
