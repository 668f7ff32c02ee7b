import { sql, type Kysely, type RawBuilder } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import type { DB } from "../db/schema.ts";
import { compare } from "./lock-order.ts";

export type CategoryPreference = {
  userId: string;
  category: string;
  optedIn: boolean;
};

const PREFERENCE_COLUMNS = {
  user_id: "text",
  category: "text",
  opted_in: "boolean",
};

export function upsertCategoryPreferencesSql(
  preferences: readonly CategoryPreference[],
  now: Date,
): RawBuilder<unknown> {
  const sorted = [...preferences].sort(
    (a, b) => compare(a.userId, b.userId) || compare(a.category, b.category),
  );
  const records = sorted.map((p) => ({
    user_id: p.userId,
    category: p.category,
    opted_in: p.optedIn,
  }));
  return sql`
    insert into category_preferences (user_id, category, opted_in, updated_at)
    select user_id, category, opted_in, ${now}::timestamptz
    from ${jsonRows(records, PREFERENCE_COLUMNS)}
    order by ord
    on conflict (user_id, category) do update set
      opted_in = excluded.opted_in,
      updated_at = excluded.updated_at
    -- A choice repeated (every identify carries the opt-in traits) is not rewritten.
    where category_preferences.opted_in <> excluded.opted_in`;
}

/** The categories a user chose explicitly, by name. */
export async function listCategoryPreferences(
  db: Kysely<DB>,
  userId: string,
): Promise<Map<string, boolean>> {
  const rows = await db
    .selectFrom("category_preferences")
    .select(["category", "opted_in"])
    .where("user_id", "=", userId)
    .execute();
  return new Map(rows.map((row) => [row.category, row.opted_in]));
}
