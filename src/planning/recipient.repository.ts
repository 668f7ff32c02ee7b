import { sql, type Kysely } from "kysely";
import { DeviceStatus, type DB, type JsonObject } from "../db/schema.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import { COUNTED_STATUSES } from "./notification.repository.ts";

export type AudienceMember = { userId: string; item: JsonObject | undefined };

/** One page of the users who saved `key` in `collection`, in user_id order after `after`. */
export async function listSaversPage(
  db: Kysely<DB>,
  collection: string,
  key: string,
  after: string | null,
  limit: number,
): Promise<AudienceMember[]> {
  let query = db
    .selectFrom("saved_items")
    .select(["user_id", "properties"])
    .where("collection", "=", collection)
    .where("item_key", "=", key);
  if (after !== null) query = query.where("user_id", ">", after);
  const rows = await query.orderBy("user_id").limit(limit).execute();
  return rows.map((row) => ({ userId: row.user_id, item: row.properties }));
}

/** One page of all profiles, in user_id order after `after`, for trait-condition audiences. */
export async function listProfilesPage(
  db: Kysely<DB>,
  after: string | null,
  limit: number,
): Promise<
  {
    userId: string;
    traits: JsonObject;
    locale: string | null;
    timezone: string | null;
  }[]
> {
  let query = db
    .selectFrom("profiles")
    .select(["user_id", "traits", "locale", "timezone"]);
  if (after !== null) query = query.where("user_id", ">", after);
  const rows = await query.orderBy("user_id").limit(limit).execute();
  return rows.map((row) => ({
    userId: row.user_id,
    traits: row.traits,
    locale: row.locale,
    timezone: row.timezone,
  }));
}

export type FactsQuery = {
  category: string | undefined;
  ruleId: string;
  itemKey: string | null;
  /** Count messages created after these instants; undefined skips the count. */
  globalCapSince: Date | undefined;
  ruleCapSince: Date | undefined;
  dedupeSince: Date | undefined;
};

/**
 * Loads what the policy needs for a page of recipients: a handful of set-based queries
 * whatever the page size. Users without a profile get empty facts (no device).
 */
export async function loadRecipientFacts(
  db: Kysely<DB>,
  members: readonly AudienceMember[],
  query: FactsQuery,
): Promise<RecipientFacts[]> {
  const ids = members.map((m) => m.userId);
  if (ids.length === 0) return [];
  const [profiles, devices, choices, counts, duplicates] = await Promise.all([
    db
      .selectFrom("profiles")
      .select(["user_id", "traits", "locale", "timezone", "push_opt_out"])
      .where("user_id", "in", ids)
      .execute(),
    db
      .selectFrom("devices")
      .select(["user_id", "platform", "locale"])
      .where("user_id", "in", ids)
      .where("status", "=", DeviceStatus.active)
      .execute(),
    query.category === undefined
      ? Promise.resolve([])
      : db
          .selectFrom("category_preferences")
          .select(["user_id", "opted_in"])
          .where("user_id", "in", ids)
          .where("category", "=", query.category)
          .execute(),
    recentCounts(db, ids, query),
    query.dedupeSince === undefined
      ? Promise.resolve([])
      : db
          .selectFrom("notifications")
          .select("user_id")
          .distinct()
          .where("user_id", "in", ids)
          .where("rule_id", "=", query.ruleId)
          .where(sql<boolean>`item_key is not distinct from ${query.itemKey}`)
          .where("created_at", ">", query.dedupeSince)
          .where("status", "in", COUNTED_STATUSES)
          .execute(),
  ]);
  const profileOf = new Map(profiles.map((p) => [p.user_id, p]));
  const devicesOf = groupBy(devices, (d) => d.user_id);
  const choiceOf = new Map(choices.map((c) => [c.user_id, c.opted_in]));
  const countsOf = new Map(counts.map((c) => [c.user_id, c]));
  const duplicated = new Set(duplicates.map((d) => d.user_id));
  return members.map(({ userId, item }) => {
    const profile = profileOf.get(userId);
    const count = countsOf.get(userId);
    return {
      userId,
      traits: profile?.traits ?? {},
      locale: profile?.locale ?? null,
      timezone: profile?.timezone ?? null,
      optedOut: profile?.push_opt_out ?? false,
      devices: (devicesOf.get(userId) ?? []).map((d) => ({
        platform: d.platform,
        locale: d.locale,
      })),
      categoryChoice: choiceOf.get(userId),
      recentTotal: count?.total ?? 0,
      recentForRule: count?.rule ?? 0,
      duplicate: duplicated.has(userId),
      item,
    };
  });
}

async function recentCounts(
  db: Kysely<DB>,
  ids: readonly string[],
  query: FactsQuery,
): Promise<{ user_id: string; total: number; rule: number }[]> {
  const { globalCapSince, ruleCapSince, ruleId } = query;
  const since = [globalCapSince, ruleCapSince].filter((d) => d !== undefined);
  if (since.length === 0) return [];
  const countSince = (from: Date | undefined, onlyRule: boolean) =>
    from === undefined
      ? sql<number>`0`
      : onlyRule
        ? sql<number>`(count(*) filter (where created_at > ${from} and rule_id = ${ruleId}))::int`
        : sql<number>`(count(*) filter (where created_at > ${from}))::int`;
  return db
    .selectFrom("notifications")
    .select([
      "user_id",
      countSince(globalCapSince, false).as("total"),
      countSince(ruleCapSince, true).as("rule"),
    ])
    .where("user_id", "in", ids)
    .where(
      "created_at",
      ">",
      new Date(Math.min(...since.map((d) => d.getTime()))),
    )
    .where("status", "in", COUNTED_STATUSES)
    .groupBy("user_id")
    .execute();
}

function groupBy<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}
