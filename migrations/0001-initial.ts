import { sql, type Kysely } from "kysely";

/*
 * Per-user tables carry user_id first in their primary key and are joined on it, so
 * the schema can be distributed by user later. No sequences: ids are random or natural.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("events")
    .addColumn("message_id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("event", "text")
    .addColumn("payload", "jsonb", (c) => c.notNull())
    .addColumn("timestamp", "timestamptz", (c) => c.notNull())
    .addColumn("received_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .execute();
  await db.schema
    .createIndex("events_user_id_idx")
    .on("events")
    .columns(["user_id", "received_at"])
    .execute();
  await db.schema
    .createIndex("events_received_at_idx")
    .on("events")
    // Events are appended in received order, so a BRIN index serves the retention
    // sweep at a fraction of a b-tree's cost on every insert.
    .using("brin")
    .column("received_at")
    .execute();

  await db.schema
    .createTable("profiles")
    .addColumn("user_id", "text", (c) => c.primaryKey())
    .addColumn("traits", "jsonb", (c) =>
      c.notNull().defaultTo(sql`'{}'::jsonb`),
    )
    .addColumn("groups", "jsonb", (c) =>
      c.notNull().defaultTo(sql`'{}'::jsonb`),
    )
    .addColumn("timezone", "text")
    .addColumn("locale", "text")
    .addColumn("push_opt_out", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("created_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn("updated_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .execute();

  // Every event updates its profile: room on the page keeps those updates HOT (no new
  // index entries).
  await sql`alter table profiles set (fillfactor = 80)`.execute(db);

  await db.schema
    .createTable("profile_aliases")
    .addColumn("alias_id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .execute();
  await db.schema
    .createIndex("profile_aliases_user_id_idx")
    .on("profile_aliases")
    .column("user_id")
    .execute();

  await db.schema
    .createTable("devices")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("device_id", "text", (c) => c.notNull())
    .addColumn("platform", "text", (c) =>
      c.notNull().check(sql`platform in ('apns', 'fcm', 'webpush')`),
    )
    .addColumn("token", "text", (c) => c.notNull())
    .addColumn("subscription", "jsonb")
    .addColumn("status", "text", (c) =>
      c.notNull().check(sql`status in ('active', 'unsubscribed', 'disabled')`),
    )
    .addColumn("locale", "text")
    .addColumn("disabled_reason", "text")
    .addColumn("disabled_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addColumn("updated_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addPrimaryKeyConstraint("devices_pkey", ["user_id", "device_id"])
    .addUniqueConstraint("devices_platform_token_key", ["platform", "token"])
    .execute();

  await db.schema
    .createTable("category_preferences")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("opted_in", "boolean", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addPrimaryKeyConstraint("category_preferences_pkey", [
      "user_id",
      "category",
    ])
    .execute();

  await db.schema
    .createTable("saved_items")
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("collection", "text", (c) => c.notNull())
    .addColumn("item_key", "text", (c) => c.notNull())
    .addColumn("properties", "jsonb", (c) =>
      c.notNull().defaultTo(sql`'{}'::jsonb`),
    )
    .addColumn("saved_at", "timestamptz", (c) =>
      c.notNull().defaultTo(sql`now()`),
    )
    .addPrimaryKeyConstraint("saved_items_pkey", [
      "user_id",
      "collection",
      "item_key",
    ])
    .execute();
  // "Who saved item X?" is one index range scan.
  await db.schema
    .createIndex("saved_items_item_idx")
    .on("saved_items")
    .columns(["collection", "item_key", "user_id"])
    .execute();
}
