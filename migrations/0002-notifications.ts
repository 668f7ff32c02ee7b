import { sql, type Kysely } from "kysely";

/*
 * A rule match is recorded by the ingest transaction and expanded by workers into one
 * notification per recipient. Notifications are both the delivery queue and its ledger.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rule_matches")
    .addColumn("match_id", "text", (c) => c.primaryKey())
    .addColumn("rule_id", "text", (c) => c.notNull())
    .addColumn("rule_version", "text", (c) => c.notNull())
    .addColumn("trigger_message_id", "text", (c) => c.notNull())
    // The event's own user; null for audiences of many.
    .addColumn("user_id", "text")
    .addColumn("item_key", "text")
    .addColumn("event", "jsonb", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status in ('pending', 'expanded', 'cancelled')`),
    )
    // Expansion walks the audience in user_id order; the cursor is the last user done.
    .addColumn("cursor", "text")
    .addColumn("planned", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("triggered_at", "timestamptz", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn("updated_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addUniqueConstraint("rule_matches_rule_message_key", [
      "rule_id",
      "trigger_message_id",
    ])
    .execute();
  await db.schema
    .createIndex("rule_matches_pending_idx")
    .on("rule_matches")
    .column("created_at")
    .where(sql.ref("status"), "=", "pending")
    .execute();
  await db.schema
    .createIndex("rule_matches_user_idx")
    .on("rule_matches")
    .columns(["user_id", "rule_id"])
    .where(sql.ref("status"), "=", "pending")
    .execute();

  await db.schema
    .createTable("notifications")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("notification_id", "text", (c) => c.notNull())
    .addColumn("match_id", "text", (c) => c.notNull())
    .addColumn("rule_id", "text", (c) => c.notNull())
    .addColumn("rule_version", "text", (c) => c.notNull())
    .addColumn("item_key", "text")
    .addColumn("variant", "text")
    .addColumn("category", "text")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("deferred_by", "text")
    .addColumn("send_at", "timestamptz", (c) => c.notNull())
    .addColumn("expires_at", "timestamptz")
    .addColumn("content", "jsonb")
    .addColumn("created_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn("updated_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addPrimaryKeyConstraint("notifications_pkey", [
      "user_id",
      "notification_id",
    ])
    // Re-expanding a page after a crash cannot give anyone a second notification.
    .addUniqueConstraint("notifications_match_user_key", [
      "match_id",
      "user_id",
    ])
    .execute();
  // Delivery claims due rows in send_at order.
  await db.schema
    .createIndex("notifications_due_idx")
    .on("notifications")
    .column("send_at")
    .where(sql.ref("status"), "=", "pending")
    .execute();
  // Frequency caps and dedupe look at one user's recent notifications.
  await db.schema
    .createIndex("notifications_user_recent_idx")
    .on("notifications")
    .columns(["user_id", "created_at"])
    .execute();
  await db.schema
    .createIndex("notifications_rule_idx")
    .on("notifications")
    .columns(["rule_id", "created_at"])
    .execute();
}
