import { sql, type Kysely } from "kysely";
import type { DB, JsonObject } from "../db/schema.ts";

export type ProfileUpsert = {
  userId: string;
  traits: JsonObject;
  groups: JsonObject;
  timezone: string | undefined;
  locale: string | undefined;
};

export type Profile = {
  userId: string;
  traits: JsonObject;
  groups: JsonObject;
  timezone: string | null;
  locale: string | null;
  optedOut: boolean;
  createdAt: Date;
  updatedAt: Date;
};

/**
 * Creates or updates many profiles in one statement: traits and groups are shallow-merged,
 * timezone and locale replaced when given. Rows are sorted by key so that concurrent
 * batches lock profiles in the same order and cannot deadlock each other.
 */
export async function upsertProfiles(
  db: Kysely<DB>,
  rows: readonly ProfileUpsert[],
  now: Date,
): Promise<void> {
  if (rows.length === 0) return;
  const sorted = [...rows].sort((a, b) => compare(a.userId, b.userId));
  await db
    .insertInto("profiles")
    .values(
      sorted.map((row) => ({
        user_id: row.userId,
        traits: JSON.stringify(row.traits),
        groups: JSON.stringify(row.groups),
        timezone: row.timezone ?? null,
        locale: row.locale ?? null,
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict((oc) =>
      oc.column("user_id").doUpdateSet({
        traits: sql`profiles.traits || excluded.traits`,
        groups: sql`profiles.groups || excluded.groups`,
        timezone: sql`coalesce(excluded.timezone, profiles.timezone)`,
        locale: sql`coalesce(excluded.locale, profiles.locale)`,
        updated_at: now,
      }),
    )
    .execute();
}

export async function setOptOut(
  db: Kysely<DB>,
  userIds: ReadonlyMap<string, boolean>,
  now: Date,
): Promise<void> {
  for (const optedOut of [true, false]) {
    const ids = [...userIds]
      .filter(([, value]) => value === optedOut)
      .map(([id]) => id);
    if (ids.length === 0) continue;
    await db
      .updateTable("profiles")
      .set({ push_opt_out: optedOut, updated_at: now })
      .where("user_id", "in", ids)
      .execute();
  }
}

export async function findProfile(
  db: Kysely<DB>,
  userId: string,
): Promise<Profile | undefined> {
  const row = await db
    .selectFrom("profiles")
    .selectAll()
    .where("user_id", "=", userId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    userId: row.user_id,
    traits: row.traits,
    groups: row.groups,
    timezone: row.timezone,
    locale: row.locale,
    optedOut: row.push_opt_out,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Which profile each of `ids` now belongs to, for ids that were merged into another. */
export async function findAliases(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("profile_aliases")
    .select(["alias_id", "user_id"])
    .where("alias_id", "in", [...new Set(ids)])
    .execute();
  return new Map(rows.map((row) => [row.alias_id, row.user_id]));
}

/**
 * Moves everything of profile `from` into `into` and leaves `from` as an alias of it.
 * The known profile's own traits and preferences win; an opt-out on either side stays.
 */
export async function mergeProfileInto(
  db: Kysely<DB>,
  from: string,
  into: string,
  now: Date,
): Promise<void> {
  await sql`
    insert into profiles as p (user_id, traits, groups, timezone, locale, push_opt_out, created_at, updated_at)
    select ${into}, traits, groups, timezone, locale, push_opt_out, created_at, ${now}
    from profiles where user_id = ${from}
    on conflict (user_id) do update set
      traits = excluded.traits || p.traits,
      groups = excluded.groups || p.groups,
      timezone = coalesce(p.timezone, excluded.timezone),
      locale = coalesce(p.locale, excluded.locale),
      push_opt_out = p.push_opt_out or excluded.push_opt_out,
      created_at = least(p.created_at, excluded.created_at),
      updated_at = excluded.updated_at`.execute(db);
  await sql`
    insert into category_preferences (user_id, category, opted_in, updated_at)
    select ${into}, category, opted_in, updated_at from category_preferences where user_id = ${from}
    on conflict (user_id, category) do nothing`.execute(db);
  await sql`
    insert into saved_items (user_id, collection, item_key, properties, saved_at)
    select ${into}, collection, item_key, properties, saved_at from saved_items where user_id = ${from}
    on conflict (user_id, collection, item_key) do nothing`.execute(db);
  await db
    .updateTable("devices")
    .set({ user_id: into, updated_at: now })
    .where("user_id", "=", from)
    .execute();
  await db
    .updateTable("events")
    .set({ user_id: into })
    .where("user_id", "=", from)
    .execute();
  await db
    .updateTable("profile_aliases")
    .set({ user_id: into })
    .where("user_id", "=", from)
    .execute();
  await db
    .insertInto("profile_aliases")
    .values({ alias_id: from, user_id: into, created_at: now })
    .onConflict((oc) => oc.column("alias_id").doUpdateSet({ user_id: into }))
    .execute();
  await eraseProfileData(db, from);
}

/** Deletes a profile and everything keyed by it, including the aliases that lead to it. */
export async function eraseProfile(
  db: Kysely<DB>,
  userId: string,
  keepEvent?: string,
): Promise<void> {
  await eraseProfileData(db, userId);
  let events = db.deleteFrom("events").where("user_id", "=", userId);
  if (keepEvent !== undefined)
    events = events.where("message_id", "!=", keepEvent);
  await events.execute();
  await db
    .deleteFrom("profile_aliases")
    .where((eb) =>
      eb.or([eb("user_id", "=", userId), eb("alias_id", "=", userId)]),
    )
    .execute();
}

async function eraseProfileData(db: Kysely<DB>, userId: string): Promise<void> {
  await db
    .deleteFrom("category_preferences")
    .where("user_id", "=", userId)
    .execute();
  await db.deleteFrom("saved_items").where("user_id", "=", userId).execute();
  await db.deleteFrom("devices").where("user_id", "=", userId).execute();
  await db.deleteFrom("profiles").where("user_id", "=", userId).execute();
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
