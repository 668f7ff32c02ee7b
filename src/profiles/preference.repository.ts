import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { compare } from "./profile.repository.ts";

export type CategoryPreference = {
  userId: string;
  category: string;
  optedIn: boolean;
};

export async function upsertCategoryPreferences(
  db: Kysely<DB>,
  preferences: readonly CategoryPreference[],
  now: Date,
): Promise<void> {
  if (preferences.length === 0) return;
  const sorted = [...preferences].sort(
    (a, b) => compare(a.userId, b.userId) || compare(a.category, b.category),
  );
  await db
    .insertInto("category_preferences")
    .values(
      sorted.map((p) => ({
        user_id: p.userId,
        category: p.category,
        opted_in: p.optedIn,
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc.columns(["user_id", "category"]).doUpdateSet((eb) => ({
        opted_in: eb.ref("excluded.opted_in"),
        updated_at: now,
      })),
    )
    .execute();
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
