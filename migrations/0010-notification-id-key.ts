import { sql, type Kysely } from "kysely";

/*
 * A notification's id is unique on its own (0009), which made the primary key over
 * (user_id, notification_id) a second unique index that every write of the table's
 * rows keeps up for nothing: a user's notifications are found through
 * notifications_user_recent_idx. Each notification is written at least twice, planned
 * and then settled, and neither write can be a HOT update. Settling batches of 500 on a
 * table of 100,000 rows took about a tenth less time without the composite key. The
 * id's own index becomes the primary key; no row is rewritten.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    alter table notifications
      drop constraint notifications_pkey,
      add constraint notifications_pkey
        primary key using index notifications_notification_id_key`.execute(db);
}
