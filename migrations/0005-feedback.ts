import type { Kysely } from "kysely";

/*
 * What devices say back (received, opened, bounced) and the conversions that follow,
 * recorded on the notification they are about. Feedback names its notification by id
 * alone (a device may report before its user is identified): hence an index on it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("notifications")
    .addColumn("received_at", "timestamptz")
    .addColumn("opened_at", "timestamptz")
    .addColumn("bounced_at", "timestamptz")
    .addColumn("converted_at", "timestamptz")
    .addColumn("conversion_message_id", "text")
    .execute();
  await db.schema
    .createIndex("notifications_notification_id_idx")
    .on("notifications")
    .column("notification_id")
    .execute();
  // Feedback that names no notification Nudge knows: counted, not lost.
  await db.schema
    .createTable("unattributed_feedback")
    .addColumn("day", "date", (c) => c.notNull())
    .addColumn("event", "text", (c) => c.notNull())
    .addColumn("count", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("unattributed_feedback_pkey", ["day", "event"])
    .execute();
}
