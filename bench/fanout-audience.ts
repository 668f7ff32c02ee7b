/**
 * The fan-out benchmark's data, written set-based in SQL: an audience of savers of one
 * product, the rule match its sale records, and the hand-written INSERT … SELECT that
 * Nudge's planner is measured against.
 */
import { fileURLToPath } from "node:url";
import { sql, type Kysely } from "kysely";
import type { DB } from "../src/db/schema.ts";
import { parseSegmentEvent } from "../src/ingest/segment-event.schema.ts";
import type { Logger } from "../src/logger.ts";
import { recordRuleMatches } from "../src/planning/match-recorder.ts";
import type { RuleBook } from "../src/rules/rule-book.ts";

/**
 * The fixed clock of every run: noon UTC is outside the 21:00–08:00 quiet hours in
 * Berlin and New York and inside them in Tokyo, Sydney and Los Angeles.
 */
export const BENCH_NOW = new Date("2026-07-01T12:00:00Z");
export const RULE_ID = "wishlist-on-sale";
/** The rules both sides plan with; the baseline's SQL is written after its wishlist rule. */
export const EXAMPLE_RULES = fileURLToPath(
  new URL("../examples/rules.json", import.meta.url),
);
const PRODUCT = {
  product_id: "sku-42",
  name: "Aurora Desk Lamp",
  price: 19.99,
  image_url: "https://img.example/sku-42.jpg",
};

/** How `createAudience` shapes its users beyond who saved what. */
export type AudienceOptions = {
  /**
   * Every user can be sent to: an active device each, no push or category opt-out.
   * Without it, every 50th device is disabled, every 101st user opted out of push and
   * every 10th out of promotions (the planner's suppressions at work).
   */
  reachable?: boolean;
  /** The rows' timestamps (default BENCH_NOW). */
  now?: Date;
};

/**
 * N users who all saved PRODUCT in the wishlist, half of them another product too.
 * Every fifth has no first name (the body falls back to "there"), the others each have
 * their own ("Ana-12"), so no two greetings are alike; every third reads
 * German, timezones rotate through six (one unset). Even users have one APNs device,
 * odd ones one FCM device. Unless `reachable`: every 50th device is disabled (no
 * device), every 101st user opted out of push, every 10th out of promotions.
 */
export async function createAudience(
  db: Kysely<DB>,
  users: number,
  options: AudienceOptions = {},
): Promise<void> {
  const now = options.now ?? BENCH_NOW;
  const reachable = options.reachable === true;
  const userId = sql`'user-' || lpad(i::text, 7, '0')`;
  await sql`
    insert into profiles (user_id, traits, timezone, locale, push_opt_out, created_at, updated_at)
    select ${userId},
      case when i % 5 = 0 then '{}'::jsonb
        else jsonb_build_object('first_name', (array['Ana', 'Bo', 'Chloé', 'Dev', 'Emre', 'Fumiko', 'Grace'])[1 + i % 7] || '-' || i)
      end,
      (array['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'America/Los_Angeles', 'Australia/Sydney', null])[1 + i % 6],
      case when i % 3 = 0 then 'de-DE' else 'en-US' end,
      ${reachable ? sql`false` : sql`i % 101 = 0`}, ${now}::timestamptz, ${now}::timestamptz
    from generate_series(1, ${users}::int) as i`.execute(db);
  await sql`
    insert into devices (user_id, device_id, platform, token, status, created_at, updated_at)
    select ${userId}, 'device-' || i,
      case when i % 2 = 0 then 'apns' else 'fcm' end,
      case when i % 2 = 0 then md5(i::text) || md5('apns' || i) else 'fcm-' || md5(i::text) || ':APA91b' end,
      case when i % 50 = 0 and not ${reachable} then 'disabled' else 'active' end,
      ${now}::timestamptz, ${now}::timestamptz
    from generate_series(1, ${users}::int) as i`.execute(db);
  if (!reachable) {
    await sql`
      insert into category_preferences (user_id, category, opted_in, updated_at)
      select ${userId}, 'promotions', i % 10 = 3, ${now}::timestamptz
      from generate_series(1, ${users}::int) as i
      where i % 10 in (3, 7)`.execute(db);
  }
  await sql`
    insert into saved_items (user_id, collection, item_key, properties, saved_at)
    select ${userId}, 'wishlist', ${PRODUCT.product_id}, jsonb_build_object('name', ${PRODUCT.name}::text), ${now}::timestamptz
    from generate_series(1, ${users}::int) as i
    union all
    select ${userId}, 'wishlist', 'sku-7', '{"name": "Desk"}'::jsonb, ${now}::timestamptz
    from generate_series(1, ${users}::int) as i
    where i % 2 = 0`.execute(db);
  // Now rather than by autovacuum during a measurement: statistics, visibility maps.
  await sql`vacuum analyze`.execute(db);
}

/** The Segment track call that puts PRODUCT on sale: the trigger of `wishlist-on-sale`. */
export function saleEvent(at: Date): Record<string, unknown> {
  return {
    type: "track",
    messageId: `bench-sale-${PRODUCT.product_id}-${at.getTime()}`,
    userId: "merchant-1",
    event: "Product Updated",
    properties: { ...PRODUCT, on_sale: true },
    timestamp: at.toISOString(),
  };
}

/**
 * Records the sale of PRODUCT the way ingest does, through the rule book's trigger
 * index: exactly one match of the wishlist rule, pending expansion. Returns its id.
 */
export async function recordSale(
  db: Kysely<DB>,
  book: RuleBook,
  logger: Logger,
): Promise<string> {
  const parsed = parseSegmentEvent(saleEvent(BENCH_NOW), BENCH_NOW);
  if (!parsed.ok) throw new Error("the sale event does not parse");
  const recorded = await recordRuleMatches(
    db,
    [{ event: parsed.event, userId: "merchant-1" }],
    book,
    BENCH_NOW,
    logger,
  );
  const matches = await db
    .selectFrom("rule_matches")
    .select(["match_id", "rule_id"])
    .execute();
  const match = matches[0];
  if (recorded !== 1 || matches.length !== 1 || match?.rule_id !== RULE_ID) {
    throw new Error(`expected one ${RULE_ID} match, got ${matches.length}`);
  }
  return match.match_id;
}

/** A stable fraction in [0, 1) as variant.ts draws it: sha256 of the NUL-joined parts. */
const draw = (purpose: string) => sql`(('x' || left(encode(sha256(
    convert_to(m.rule_id, 'UTF8') || '\\x00'::bytea || convert_to(s.user_id, 'UTF8')
    || '\\x00'::bytea || convert_to(${purpose}::text, 'UTF8')), 'hex'), 8))::bit(32)::bigint / 4294967296.0)`;

/**
 * The baseline: the match's whole audience planned by ONE hand-written INSERT … SELECT,
 * with the rule's policy and message written into the SQL: no device, push and category
 * opt-outs, the 5% holdout and 50/50 variants (the same sha256 draws as Nudge's),
 * dedupe and frequency cap, quiet hours in each user's timezone, ttl, and the content
 * of examples/rules.json by string concatenation. Returns the rows inserted.
 */
export async function insertBaselineNotifications(
  db: Kysely<DB>,
  matchId: string,
): Promise<number> {
  const now = BENCH_NOW;
  const result = await sql`
    with facts as materialized (
      select s.user_id, m.match_id, m.rule_id, m.rule_version, m.item_key, m.event,
        m.triggered_at,
        p.traits, p.locale, coalesce(p.push_opt_out, false) as opted_out,
        coalesce(p.timezone, 'UTC') as tz,
        d.user_id is not null as has_device,
        coalesce(c.opted_in, true) as promotions_in,
        ${draw("holdout")} < 0.05 as held_out,
        case when ${draw("variant")} < 0.5 then 'a' else 'b' end as arm,
        coalesce(h.duplicate, false) as duplicate,
        coalesce(h.recent, 0) as recent
      from rule_matches m
      join saved_items s on s.collection = 'wishlist' and s.item_key = m.item_key
      left join profiles p on p.user_id = s.user_id
      left join (select distinct user_id from devices where status = 'active') d
        on d.user_id = s.user_id
      left join category_preferences c on c.user_id = s.user_id and c.category = 'promotions'
      -- Everyone's recent history read once, before the insert adds to the table.
      left join (
        select n.user_id,
          bool_or(n.rule_id = ${RULE_ID} and n.item_key = ${PRODUCT.product_id}
            and n.created_at > ${now}::timestamptz - interval '24 hours') as duplicate,
          count(*) as recent
        from notifications n
        where n.created_at > ${now}::timestamptz - interval '1 day'
          and n.status in ('pending', 'sending', 'sent')
        group by n.user_id
      ) h on h.user_id = s.user_id
      where m.match_id = ${matchId}
    ), scheduled as (
      select f.*,
        case when local_at::time >= '21:00' then ((local_at::date + 1) + time '08:00') at time zone tz
          when local_at::time < '08:00' then (local_at::date + time '08:00') at time zone tz
        end as quiet_end,
        triggered_at + interval '12 hours' as expires_at
      from (select *, triggered_at at time zone tz as local_at from facts) f
    ), decided as (
      select s.*,
        greatest(triggered_at, coalesce(quiet_end, triggered_at)) as send_at,
        case when not has_device then 'no_device'
          when opted_out then 'opted_out'
          when not promotions_in then 'category_opted_out'
          when held_out then 'holdout'
          when duplicate then 'duplicate'
          when recent >= 3 then 'frequency_cap'
          when quiet_end > expires_at then 'expired'
        end as reason
      from scheduled s
    )
    insert into notifications (user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, category, status, reason, deferred_by, send_at, expires_at,
      content, created_at, updated_at)
    select user_id, gen_random_uuid()::text, match_id, rule_id, rule_version, item_key,
      case when held_out then 'holdout' else arm end, 'promotions',
      case when reason is null then 'pending' else 'suppressed' end,
      reason,
      case when reason is null and quiet_end > triggered_at then 'quiet_hours' end,
      case when reason is null then send_at else triggered_at end,
      case when reason is null then expires_at end,
      case when reason is not null then 'null'::jsonb else jsonb_build_object(
        'title', case when locale like 'de%' then event->'properties'->>'name' || ' ist reduziert'
          when arm = 'b' then 'Price drop: ' || (event->'properties'->>'name')
          else event->'properties'->>'name' || ' is on sale' end,
        'body', case when locale like 'de%'
          then 'Hallo ' || coalesce(nullif(traits->>'first_name', ''), 'zusammen') || ', jetzt ' || (event->'properties'->>'price')
          else 'Hi ' || coalesce(nullif(traits->>'first_name', ''), 'there') || ', now ' || (event->'properties'->>'price') end,
        'deepLink', 'shop://product/' || (event->'properties'->>'product_id'),
        'image', event->'properties'->>'image_url',
        'data', '{}'::jsonb)
        || case when locale like 'de%' then '{"locale": "de"}'::jsonb else '{}'::jsonb end
      end,
      ${now}::timestamptz, ${now}::timestamptz
    from decided`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Notifications by status, reason and deferral: what shows the work was real. */
export type OutcomeCount = {
  status: string;
  reason: string | null;
  deferredBy: string | null;
  count: number;
};

export async function countOutcomes(
  db: Kysely<DB>,
  table: "notifications" | "nudge_notifications" = "notifications",
): Promise<OutcomeCount[]> {
  const result = await sql<OutcomeCount>`
    select status, reason, deferred_by as "deferredBy", count(*)::int as count
    from ${sql.table(table)}
    group by 1, 2, 3 order by 1, 2 nulls first, 3 nulls first`.execute(db);
  return result.rows;
}

/** Moves Nudge's rows aside, so the baseline writes into the same, empty table. */
export async function setAsideNudgeRows(db: Kysely<DB>): Promise<void> {
  await sql`create table nudge_notifications as table notifications`.execute(
    db,
  );
  await sql`truncate notifications`.execute(db);
}

/**
 * Rows that differ between Nudge's and the baseline's output in anything but their
 * random ids: 0 means the baseline produced exactly Nudge's notifications.
 */
export async function countDifferences(db: Kysely<DB>): Promise<number> {
  const columns = sql.raw(
    "user_id, match_id, rule_id, rule_version, item_key, variant, category, status, reason, deferred_by, send_at, expires_at, content, created_at",
  );
  const result = await sql<{ count: number }>`
    select count(*)::int as count from (
      (select ${columns} from nudge_notifications except all select ${columns} from notifications)
      union all
      (select ${columns} from notifications except all select ${columns} from nudge_notifications)
    ) as differences`.execute(db);
  return result.rows[0]?.count ?? Number.NaN;
}
