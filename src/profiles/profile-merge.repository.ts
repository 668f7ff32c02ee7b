import { sql, type Kysely, type RawBuilder } from "kysely";
import type { DB } from "../db/schema.ts";
import type { UserRows } from "./user-rows.ts";
import {
  lockDevicesOf,
  lockExistingProfile,
  lockProfiles,
} from "./lock-order.ts";

/*
 * Merging a profile into another and erasing one: each moves or deletes one user's
 * rows in every table keyed by user, after taking the user's locks (lock-order.ts).
 * Profiles' own tables are written here; every other feature's rows are moved or
 * deleted by that feature (`UserRows`). Keep the tables in step with
 * `OWNS_PROFILE_DATA` in profile.repository.ts.
 */

/**
 * Moves everything of profile `from` into `into` and leaves `from` as an alias of it.
 * The known profile's own traits and preferences win; an opt-out on either side stays.
 * So does its timezone and locale, unless only the merged one's was set by a trait.
 * Both profiles, then the devices that move, are locked first (see lock-order.ts).
 */
export async function mergeProfileInto(
  db: Kysely<DB>,
  from: string,
  into: string,
  now: Date,
  features: readonly UserRows[],
): Promise<void> {
  await lockProfiles(db, { create: [from, into] }, now);
  await lockDevicesOf(db, from);
  await mergeProfileRow(db, from, into, now);
  await moveProfileData(db, from, into, now);
  for (const feature of features) await feature.move(db, from, into);
  await db
    .updateTable("device_disablings")
    .set({ user_id: into })
    .where("user_id", "=", from)
    .execute();
  await moveAliases(db, from, into, now);
  await eraseProfileData(db, from);
}

/** Folds the profile row of `from` into that of `into`, as `mergeProfileInto` says. */
async function mergeProfileRow(
  db: Kysely<DB>,
  from: string,
  into: string,
  now: Date,
): Promise<void> {
  await sql`
    insert into profiles as p (user_id, traits, groups, timezone, timezone_source, locale, locale_source, push_opt_out, created_at, updated_at)
    select ${into}, traits, groups, timezone, timezone_source, locale, locale_source, push_opt_out, created_at, ${now}
    from profiles where user_id = ${from}
    on conflict (user_id) do update set
      traits = excluded.traits || p.traits,
      groups = excluded.groups || p.groups,
      ${keepSourced("timezone")},
      ${keepSourced("locale")},
      push_opt_out = p.push_opt_out or excluded.push_opt_out,
      created_at = least(p.created_at, excluded.created_at),
      updated_at = excluded.updated_at`.execute(db);
}

/**
 * Copies the preferences and saved items `into` lacks (what is left of `from`'s goes
 * with `eraseProfileData`), and moves the devices.
 */
async function moveProfileData(
  db: Kysely<DB>,
  from: string,
  into: string,
  now: Date,
): Promise<void> {
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
}

/** Points every alias of `from`, and `from` itself, at `into`. */
async function moveAliases(
  db: Kysely<DB>,
  from: string,
  into: string,
  now: Date,
): Promise<void> {
  // `into` merged into `from` by a request that committed after this merge was
  // planned: they are one person either way, and this later merge wins, instead of
  // leaving `into` as an alias of itself.
  await db
    .deleteFrom("profile_aliases")
    .where("alias_id", "=", into)
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
}

/**
 * `column` and its source as the merge keeps them: the known profile's (`p`), unless
 * it has none or the merged profile's (`excluded`) came from a trait and its own did not.
 */
function keepSourced(column: "timezone" | "locale"): RawBuilder<unknown> {
  const takesMerged = sql.raw(
    `(p.${column} is null or (excluded.${column}_source = 'trait' and p.${column}_source is distinct from 'trait'))`,
  );
  const pick = (name: string) =>
    sql`${sql.raw(name)} = case when ${takesMerged} then ${sql.raw(`excluded.${name}`)} else ${sql.raw(`p.${name}`)} end`;
  return sql`${pick(column)}, ${pick(`${column}_source`)}`;
}

/**
 * Deletes a profile and everything keyed by it, including the aliases that lead to it.
 * The profile, then its devices, are locked first (see lock-order.ts).
 */
export async function eraseProfile(
  db: Kysely<DB>,
  userId: string,
  features: readonly UserRows[],
  keepEvent?: string,
): Promise<void> {
  await lockExistingProfile(db, userId);
  await lockDevicesOf(db, userId);
  await eraseProfileData(db, userId);
  for (const feature of features) await feature.erase(db, userId, keepEvent);
  await db
    .deleteFrom("device_disablings")
    .where("user_id", "=", userId)
    .execute();
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
