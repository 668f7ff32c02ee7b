import { sql, type Kysely } from "kysely";

/*
 * Delivery claims due notifications, sends one push per active device of the user, and
 * records each device's outcome. A device disabled on a provider's answer is audited.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("notifications")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    // A claim is a lease: a row still "sending" after it ends was claimed by a process
    // that died, and is claimed again.
    .addColumn("claimed_until", "timestamptz")
    .addColumn("sent_at", "timestamptz")
    .execute();
  await db.schema
    .createIndex("notifications_claimed_idx")
    .on("notifications")
    .column("claimed_until")
    .where(sql.ref("status"), "=", "sending")
    .execute();

  await db.schema
    .createTable("deliveries")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("notification_id", "text", (c) => c.notNull())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("platform", "text", (c) => c.notNull())
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c
        .notNull()
        .check(sql`status in ('sent', 'retry', 'invalid_token', 'failed')`),
    )
    .addColumn("reason", "text")
    .addColumn("provider_message_id", "text")
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("deliveries_pkey", [
      "user_id",
      "notification_id",
      "device_id",
    ])
    .execute();

  await db.schema
    .createTable("device_disablings")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("platform", "text", (c) => c.notNull())
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("notification_id", "text", (c) => c.notNull())
    .addColumn("disabled_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("device_disablings_pkey", [
      "user_id",
      "device_id",
      "disabled_at",
    ])
    .execute();
}
