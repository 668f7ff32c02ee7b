import { sql, type Kysely } from "kysely";
import { groupBy } from "../group-by.ts";
import {
  DeviceStatus,
  type DB,
  type JsonObject,
  NotificationStatus,
  type Platform,
} from "../db/schema.ts";
import { parseDuration } from "../rules/duration.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import type { Rule } from "../rules/rule-book.ts";
import type { Settings } from "../rules/rules-file.schema.ts";

/** Statuses of messages that were or will be sent: what caps and dedupe count. */
export const COUNTED_STATUSES = [
  NotificationStatus.pending,
  NotificationStatus.sending,
  NotificationStatus.sent,
] as const;

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
  /** The statuses counted: by default those of messages sent or to be sent. */
  counting?: readonly NotificationStatus[];
};

/** An active device of a recipient: what a push is addressed to. */
export type DeviceTarget = {
  userId: string;
  deviceId: string;
  platform: Platform;
  token: string;
  subscription: JsonObject | null;
  locale: string | null;
};

/**
 * The active devices of these users, one lateral lookup per user on the devices' key.
 * A join would let the planner choose: it prices a thousand index probes above a scan
 * of the whole table, which then reads every device for every page of a fan-out.
 * (`offset 0` keeps the subquery from being flattened into such a join.)
 */
export async function listActiveDevices(
  db: Kysely<DB>,
  userIds: readonly string[],
): Promise<DeviceTarget[]> {
  if (userIds.length === 0) return [];
  const result = await sql<{
    user_id: string;
    device_id: string;
    platform: Platform;
    token: string;
    subscription: JsonObject | null;
    locale: string | null;
  }>`
    select d.user_id, d.device_id, d.platform, d.token, d.subscription, d.locale
    from unnest(${userIds}::text[]) as u (user_id)
    cross join lateral (
      select * from devices
      where devices.user_id = u.user_id and devices.status = ${DeviceStatus.active}
      offset 0
    ) as d`.execute(db);
  return result.rows.map((row) => ({
    userId: row.user_id,
    deviceId: row.device_id,
    platform: row.platform,
    token: row.token,
    subscription: row.subscription,
    locale: row.locale,
  }));
}

/**
 * Loads what the policy needs for a page of recipients: one statement whatever the
 * page size, besides the devices. Users without a profile get empty facts (no device).
 * A caller that has read the members' active devices already passes them in.
 */
export async function loadRecipientFacts(
  db: Kysely<DB>,
  members: readonly AudienceMember[],
  query: FactsQuery,
  activeDevices?: readonly DeviceTarget[],
): Promise<RecipientFacts[]> {
  const ids = members.map((m) => m.userId);
  if (ids.length === 0) return [];
  const devices = activeDevices ?? (await listActiveDevices(db, ids));
  const rows = await factRows(db, ids, query);
  const devicesOf = groupBy(devices, (d) => d.userId);
  const rowOf = new Map(rows.map((row) => [row.user_id, row]));
  return members.map(({ userId, item }) => {
    const row = rowOf.get(userId);
    return {
      userId,
      traits: row?.traits ?? {},
      locale: row?.locale ?? null,
      timezone: row?.timezone ?? null,
      optedOut: row?.push_opt_out ?? false,
      devices: (devicesOf.get(userId) ?? []).map((d) => ({
        platform: d.platform,
        locale: d.locale,
      })),
      categoryChoice: row?.opted_in ?? undefined,
      recentTotal: row?.total ?? 0,
      recentForRule: row?.rule ?? 0,
      duplicate: row?.duplicate ?? false,
      item,
    };
  });
}

type FactRow = {
  user_id: string;
  traits: JsonObject | null;
  locale: string | null;
  timezone: string | null;
  push_opt_out: boolean | null;
  opted_in: boolean | null;
  total: number | null;
  rule: number | null;
  duplicate: boolean | null;
};

/**
 * Each user's profile, their choice for the rule's category and their recent
 * notifications as caps and dedupe see them, as lateral lookups on each table's key:
 * one round trip for the three.
 *
 * The recent notifications are counted on notifications_user_recent_idx, whatever the
 * planner believes: during a large fan-out the table's statistics say that few rows are
 * recent, and a plan that scans "recent" rows by time and filters them by user grows
 * with the fan-out itself, page after page. (`offset 0` keeps each subquery from being
 * flattened into a join the planner may turn into such a scan.)
 */
async function factRows(
  db: Kysely<DB>,
  ids: readonly string[],
  query: FactsQuery,
): Promise<FactRow[]> {
  const choice =
    query.category === undefined
      ? sql`select null::boolean as opted_in`
      : sql`select opted_in from category_preferences c
          where c.user_id = u.user_id and c.category = ${query.category} offset 0`;
  const result = await sql<FactRow>`
    select u.user_id, p.traits, p.locale, p.timezone, p.push_opt_out, c.opted_in,
      h.total, h.rule, h.duplicate
    from unnest(${ids}::text[]) as u (user_id)
    left join lateral (
      select traits, locale, timezone, push_opt_out from profiles p
      where p.user_id = u.user_id offset 0
    ) as p on true
    left join lateral (${choice}) as c on true
    left join lateral (${recentHistory(query)}) as h on true`.execute(db);
  return result.rows;
}

/** The user's recent notifications as caps and dedupe count them, for `factRows`. */
function recentHistory(query: FactsQuery) {
  const { globalCapSince, ruleCapSince, dedupeSince, ruleId, itemKey } = query;
  const since = [globalCapSince, ruleCapSince, dedupeSince].filter(
    (d) => d !== undefined,
  );
  if (since.length === 0)
    return sql`select 0 as total, 0 as rule, false as duplicate`;
  const earliest = new Date(Math.min(...since.map((d) => d.getTime())));
  const ofRule = sql`rule_id = ${ruleId}`;
  const total =
    globalCapSince === undefined
      ? sql`0`
      : // A message of a rule with `caps: false` (a silent one, by default) is not counted.
        sql`(count(*) filter (where created_at > ${globalCapSince} and not coalesce(content @> '{"uncapped": true}', false)))::int`;
  const rule =
    ruleCapSince === undefined
      ? sql`0`
      : sql`(count(*) filter (where created_at > ${ruleCapSince} and ${ofRule}))::int`;
  const duplicate =
    dedupeSince === undefined
      ? sql`false`
      : sql`coalesce(bool_or(created_at > ${dedupeSince} and ${ofRule} and item_key is not distinct from ${itemKey}), false)`;
  return sql`
    select ${total} as total, ${rule} as rule, ${duplicate} as duplicate
    from notifications n
    where n.user_id = u.user_id and n.created_at > ${earliest}
      and n.status in (${sql.join(query.counting ?? COUNTED_STATUSES)})`;
}

/** The recipient facts a rule's policy needs, with its cap and dedupe windows ending `now`. */
export function factsQuery(
  rule: Rule,
  settings: Settings,
  itemKey: string | null,
  now: Date,
): FactsQuery {
  const since = (duration: string | undefined) => {
    const ms = duration === undefined ? undefined : parseDuration(duration);
    return ms === undefined ? undefined : new Date(now.getTime() - ms);
  };
  return {
    category: rule.category,
    ruleId: rule.id,
    itemKey,
    globalCapSince: since(settings.frequencyCap?.per),
    ruleCapSince: since(rule.delivery.frequencyCap?.per),
    dedupeSince: since(rule.delivery.dedupe),
  };
}
