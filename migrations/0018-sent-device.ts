import type { Kysely } from "kysely";

/*
 * The device a notification was sent to, when that one send at its first attempt is
 * all there is to say of its delivery: such a notification gets no `deliveries` row
 * (outcome.repository.ts), and its history reads the device from here. Null for every
 * other notification, whose deliveries are rows of their own.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("notifications")
    .addColumn("sent_device_id", "text")
    .addColumn("sent_provider", "text")
    .addColumn("sent_provider_message_id", "text")
    .execute();
}
