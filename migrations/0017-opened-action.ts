import type { Kysely } from "kysely";

/*
 * Which button of a notification was tapped (`Push Notification Tapped` with
 * `properties.action_id`), kept on the notification, and counted per action in the
 * hourly stats rollup. Null for a tap on the notification itself.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("notifications")
    .addColumn("opened_action", "text")
    .execute();
  await db.schema
    .alterTable("notification_stats_hourly")
    .addColumn("opened_action", "text")
    .execute();
}
