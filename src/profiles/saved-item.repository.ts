import { sql, type Kysely, type RawBuilder } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import type { DB, JsonObject } from "../db/schema.ts";
import { compare } from "./lock-order.ts";

export type SavedItemWrite = {
  userId: string;
  collection: string;
  key: string;
  op: "add" | "remove";
  properties: JsonObject;
};

export type SavedItem = {
  collection: string;
  key: string;
  properties: JsonObject;
  savedAt: Date;
};

const SAVED_ITEM_COLUMNS = {
  user_id: "text",
  collection: "text",
  item_key: "text",
  properties: "jsonb",
};

/**
 * The statements applying the net effect of adds and removes: callers pass at most one
 * write per item, so the two never touch the same row.
 */
export function writeSavedItemsSql(
  writes: readonly SavedItemWrite[],
  now: Date,
): RawBuilder<unknown>[] {
  const sorted = [...writes].sort(
    (a, b) =>
      compare(a.userId, b.userId) ||
      compare(a.collection, b.collection) ||
      compare(a.key, b.key),
  );
  const records = (op: SavedItemWrite["op"]) =>
    sorted
      .filter((w) => w.op === op)
      .map((w) => ({
        user_id: w.userId,
        collection: w.collection,
        item_key: w.key,
        properties: w.properties,
      }));
  const adds = records("add");
  const removes = records("remove");
  const statements: RawBuilder<unknown>[] = [];
  if (adds.length > 0) {
    statements.push(sql`
      insert into saved_items (user_id, collection, item_key, properties, saved_at)
      select user_id, collection, item_key, properties, ${now}::timestamptz
      from ${jsonRows(adds, SAVED_ITEM_COLUMNS)}
      order by ord
      on conflict (user_id, collection, item_key) do update set
        properties = excluded.properties
      -- An item saved again as it was is not rewritten.
      where saved_items.properties <> excluded.properties`);
  }
  if (removes.length > 0) {
    statements.push(sql`
      delete from saved_items s
      using ${jsonRows(removes, SAVED_ITEM_COLUMNS)}
      where s.user_id = r.user_id and s.collection = r.collection and s.item_key = r.item_key`);
  }
  return statements;
}

export async function listSavedItems(
  db: Kysely<DB>,
  userId: string,
): Promise<SavedItem[]> {
  const rows = await db
    .selectFrom("saved_items")
    .select(["collection", "item_key", "properties", "saved_at"])
    .where("user_id", "=", userId)
    .orderBy("collection")
    .orderBy("saved_at")
    .orderBy("item_key")
    .execute();
  return rows.map((row) => ({
    collection: row.collection,
    key: row.item_key,
    properties: row.properties,
    savedAt: row.saved_at,
  }));
}
