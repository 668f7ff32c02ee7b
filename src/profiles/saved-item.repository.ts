import { sql, type Kysely } from "kysely";
import type { DB, JsonObject } from "../db/schema.ts";
import { compare } from "./profile.repository.ts";

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

/** Applies the net effect of adds and removes: callers pass at most one write per item. */
export async function writeSavedItems(
  db: Kysely<DB>,
  writes: readonly SavedItemWrite[],
  now: Date,
): Promise<void> {
  const sorted = [...writes].sort(
    (a, b) =>
      compare(a.userId, b.userId) ||
      compare(a.collection, b.collection) ||
      compare(a.key, b.key),
  );
  const adds = sorted.filter((w) => w.op === "add");
  const removes = sorted.filter((w) => w.op === "remove");
  if (adds.length > 0) {
    await db
      .insertInto("saved_items")
      .values(
        adds.map((w) => ({
          user_id: w.userId,
          collection: w.collection,
          item_key: w.key,
          properties: JSON.stringify(w.properties),
          saved_at: now,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(["user_id", "collection", "item_key"])
          .doUpdateSet({ properties: sql`excluded.properties` }),
      )
      .execute();
  }
  if (removes.length > 0) {
    await db
      .deleteFrom("saved_items")
      .where((eb) =>
        eb.or(
          removes.map((w) =>
            eb.and([
              eb("user_id", "=", w.userId),
              eb("collection", "=", w.collection),
              eb("item_key", "=", w.key),
            ]),
          ),
        ),
      )
      .execute();
  }
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

/** Who saved `key` in `collection`: one range scan of saved_items_item_idx. */
export async function listSavers(
  db: Kysely<DB>,
  collection: string,
  key: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom("saved_items")
    .select("user_id")
    .where("collection", "=", collection)
    .where("item_key", "=", key)
    .orderBy("user_id")
    .execute();
  return rows.map((row) => row.user_id);
}
