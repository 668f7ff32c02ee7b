import { sql, type Kysely, type RawBuilder } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import { PREPARE } from "../db/prepared-statements.ts";
import type { DB, JsonObject } from "../db/schema.ts";
import { compare } from "./lock-order.ts";
import type { SourcedValue } from "./profile-changes.ts";

export type ProfileUpsert = {
  userId: string;
  traits: JsonObject;
  groups: JsonObject;
  timezone: SourcedValue | undefined;
  locale: SourcedValue | undefined;
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

/** `from` is to be known as `into` from now on. */
export type AliasLink = { from: string; into: string };

const ALIAS_COLUMNS = { alias_id: "text", user_id: "text" };

const PROFILE_COLUMNS = {
  user_id: "text",
  traits: "jsonb",
  groups: "jsonb",
  timezone: "text",
  timezone_source: "text",
  locale: "text",
  locale_source: "text",
};

/**
 * Whether a call's timezone or locale (`column`) replaces the stored one: one from a
 * trait always does, one from context only where the stored value is unset or came
 * from context too (see `SourcedValue`).
 */
function replacesStored(column: "timezone" | "locale"): RawBuilder<unknown> {
  return sql.raw(
    `(excluded.${column} is not null and (excluded.${column}_source = 'trait' or profiles.${column}_source is distinct from 'trait'))`,
  );
}

/** Sets `column` and its source to the call's where it replaces the stored one. */
function setSourced(column: "timezone" | "locale"): RawBuilder<unknown> {
  const replaces = replacesStored(column);
  return sql`${sql.raw(column)} = case when ${replaces} then ${sql.raw(`excluded.${column}`)} else ${sql.raw(`profiles.${column}`)} end,
      ${sql.raw(`${column}_source`)} = case when ${replaces} then ${sql.raw(`excluded.${column}_source`)} else ${sql.raw(`profiles.${column}_source`)} end`;
}

/** Whether the call's `column` replaces the stored one with something else. */
function changesSourced(column: "timezone" | "locale"): RawBuilder<unknown> {
  return sql`(${replacesStored(column)} and ${sql.raw(
    `(profiles.${column} is distinct from excluded.${column} or profiles.${column}_source is distinct from excluded.${column}_source)`,
  )})`;
}

/**
 * Creates or updates many profiles in one statement: traits and groups are shallow-merged,
 * timezone and locale replaced when given, unless what is given came from context and
 * what is stored from a trait. A profile the calls leave as it was is not
 * rewritten, so `updated_at` is when it last changed (most calls change nothing: the
 * same timezone and locale on every event). Rows are sorted by key so that concurrent
 * batches lock profiles in the same order and cannot deadlock each other.
 */
export function upsertProfilesSql(
  rows: readonly ProfileUpsert[],
  now: Date,
): RawBuilder<unknown> {
  const sorted = [...rows].sort((a, b) => compare(a.userId, b.userId));
  const records = sorted.map((row) => ({
    user_id: row.userId,
    traits: row.traits,
    groups: row.groups,
    timezone: row.timezone?.value ?? null,
    timezone_source: row.timezone?.source ?? null,
    locale: row.locale?.value ?? null,
    locale_source: row.locale?.source ?? null,
  }));
  return sql`
    insert into profiles (user_id, traits, groups, timezone, timezone_source, locale, locale_source, created_at, updated_at)
    select user_id, traits, groups, timezone, timezone_source, locale, locale_source, ${now}::timestamptz, ${now}::timestamptz
    from ${jsonRows(records, PROFILE_COLUMNS)}
    order by ord
    on conflict (user_id) do update set
      traits = profiles.traits || excluded.traits,
      groups = profiles.groups || excluded.groups,
      ${setSourced("timezone")},
      ${setSourced("locale")},
      updated_at = excluded.updated_at
    where profiles.traits || excluded.traits <> profiles.traits
      or profiles.groups || excluded.groups <> profiles.groups
      or ${changesSourced("timezone")}
      or ${changesSourced("locale")}`;
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
  // One probe of the primary key per id. A plain `alias_id = any(…)` is planned as a
  // scan of the whole table with a linear search of the array while the table is small.
  const { rows } = await sql<{ alias_id: string; user_id: string }>`${PREPARE}
    select ids.id as alias_id, a.user_id
    from unnest(${[...new Set(ids)]}::text[]) as ids(id)
    cross join lateral (
      select user_id from profile_aliases where alias_id = ids.id limit 1
    ) as a`.execute(db);
  return new Map(rows.map((row) => [row.alias_id, row.user_id]));
}

/**
 * Whether the id in `ids.id` owns anything that `mergeProfileInto` would move: a
 * profile, aliases, devices, preferences, saved items, events, notifications or rule
 * matches. Keep this list in step with the tables `mergeProfileInto` (in
 * profile-merge.repository.ts) touches. One EXISTS over a UNION ALL, not eight ORed
 * EXISTS: Postgres plans the latter as hashed subplans over whole tables.
 */
const OWNS_PROFILE_DATA = sql`exists (
  select from profiles where user_id = ids.id
  union all select from profile_aliases where user_id = ids.id
  union all select from devices where user_id = ids.id
  union all select from category_preferences where user_id = ids.id
  union all select from saved_items where user_id = ids.id
  union all select from events where user_id = ids.id
  union all select from notifications where user_id = ids.id
  union all select from rule_matches where user_id = ids.id)`;

/**
 * Which of `ids` own anything: merging an id that owns nothing only records the
 * alias, which `linkAliasesSql` does for many at once.
 */
export async function findIdsWithProfileData(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`${PREPARE}
    select id from unnest(${[...new Set(ids)]}::text[]) as ids(id)
    where ${OWNS_PROFILE_DATA}`.execute(db);
  return new Set(rows.map((row) => row.id));
}

/**
 * Which of `ids` are aliases of another profile and yet own something: data written
 * under an id while it was being merged away (see `mergeStrandedProfiles`). Rare, so
 * it probes the aliases' key first and asks what an id owns only of the aliases it
 * finds. In one query Postgres asked it of every id before the join: under load that
 * took twice as long a call as the probes, with half the ids.
 */
export async function findStrandedAliases(
  db: Kysely<DB>,
  ids: readonly string[],
): Promise<AliasLink[]> {
  const aliases = await findAliases(db, ids);
  if (aliases.size === 0) return [];
  const owners = await findIdsWithProfileData(db, [...aliases.keys()]);
  return [...aliases]
    .filter(([from]) => owners.has(from))
    .map(([from, into]) => ({ from, into }));
}

/**
 * Records each `from` as an alias of its `into`: what merging a profile that owns
 * nothing amounts to. One `from` may appear once; rows are sorted so that concurrent
 * batches lock aliases in the same order.
 */
export function linkAliasesSql(
  links: readonly AliasLink[],
  now: Date,
): RawBuilder<unknown> {
  const sorted = [...links].sort((a, b) => compare(a.from, b.from));
  const records = sorted.map(({ from, into }) => ({
    alias_id: from,
    user_id: into,
  }));
  return sql`
    insert into profile_aliases (alias_id, user_id, created_at)
    select alias_id, user_id, ${now}::timestamptz
    from ${jsonRows(records, ALIAS_COLUMNS)}
    order by ord
    on conflict (alias_id) do update set user_id = excluded.user_id`;
}
