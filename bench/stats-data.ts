/**
 * The stats benchmark's data: a month of notifications of five rules, written
 * set-based in SQL, with the deliveries, devices and conversion events that go with
 * them, shaped like what Nudge's planner, delivery and feedback leave behind.
 */
import { sql, type Kysely } from "kysely";
import type { DB } from "../src/db/schema.ts";
import type { RuleBook } from "../src/rules/rule-book.ts";
import { MEASURED_RULE } from "./stats-rules.ts";

/** What `loadStatsData` writes. */
export type DataShape = {
  notifications: number;
  users: number;
  days: number;
  /** The end of the month of data: notifications are created before it. */
  end: Date;
};

/**
 * Rows follow each other in time, as they are appended: notification i is created at
 * i/N of the month. They come in blocks of 200 (one rule match each for the collection
 * rules, 200 single-user matches for the others); block b belongs to the rule at
 * b mod 10 of this list, so the measured rule holds 40% of the rows, spread over the
 * whole month like its sales would be.
 */
const BLOCK_RULES = [
  MEASURED_RULE,
  "cart-abandoned",
  "back-in-stock",
  MEASURED_RULE,
  "price-alert",
  MEASURED_RULE,
  "cart-abandoned",
  "back-in-stock",
  MEASURED_RULE,
  "order-shipped",
];

/** One device per user: APNs for 50%, FCM for 45%, Web Push for 5% (by user number). */
const platformOf = (u: string) =>
  sql.raw(
    `case when ${u} % 20 = 0 then 'webpush' when ${u} % 20 < 10 then 'fcm' else 'apns' end`,
  );

/** Everything but the notifications: one device per user. */
async function loadDevices(db: Kysely<DB>, shape: DataShape): Promise<void> {
  await sql`
    insert into devices (user_id, device_id, platform, token, status, created_at, updated_at)
    select 'user-' || lpad(u::text, 7, '0'), 'device-' || u, ${platformOf("u")},
      md5(u::text) || md5('token' || u), 'active',
      ${shape.end}::timestamptz - interval '90 days', ${shape.end}::timestamptz - interval '90 days'
    from generate_series(1, ${shape.users}::int) as u`.execute(db);
}

/**
 * The notifications, with independent draws per row: the variant (holdout first),
 * the planner's suppression (reasons by category), quiet hours (a quarter deferred by
 * up to 10 hours; cart-abandoned also waits 1 hour), the delivery outcome (3% failed,
 * cart-abandoned cancelled 20% of the time by an order; pending while send_at is still
 * ahead) and the feedback on what was sent: received 85%, opened 9% (11% for variant
 * b), bounced 0.5%; converted 20% of the opened (25% for b, 15% for other rules).
 */
async function loadNotifications(
  db: Kysely<DB>,
  book: RuleBook,
  shape: DataShape,
): Promise<void> {
  const versions = Object.fromEntries(book.rules.map((r) => [r.id, r.version]));
  const future = (at: string) =>
    sql.raw(`case when ${at} < end_at then ${at} end`);
  await sql`select setseed(0.42)`.execute(db);
  await sql`
    with draws as materialized (
      select i, (i - 1) / 200 as block, 1 + (i::bigint * 7919) % ${shape.users}::int as u,
        ${shape.end}::timestamptz as end_at,
        ${shape.end}::timestamptz - ${shape.days}::int * interval '1 day' * (1 - (i - 0.5) / ${shape.notifications}::int) as created_at,
        random() as r_variant, random() as r_suppress, random() as r_quiet,
        random() as r_outcome, random() as r_received, random() as r_opened,
        random() as r_converted, random() as r_lag
      from generate_series(1, ${shape.notifications}::int) as i
    ), ruled as (
      select d.*, rule_id, r.category, r.collection, r.holdout, r.variants, r.delay,
        ${sql.val(JSON.stringify(versions))}::jsonb ->> rule_id as rule_version
      from draws d
      cross join lateral (select (${sql.val(BLOCK_RULES)}::text[])[1 + d.block % 10] as rule_id) b
      join (values
        (${MEASURED_RULE}, 'promotions', true, 0.05, true, interval '0'),
        ('back-in-stock', 'promotions', true, 0, false, interval '0'),
        ('price-alert', 'promotions', true, 0, false, interval '0'),
        ('cart-abandoned', 'orders', false, 0, false, interval '1 hour'),
        ('order-shipped', 'orders', false, 0, false, interval '0')
      ) as r(id, category, collection, holdout, variants, delay) on r.id = b.rule_id
    ), planned as (
      select r.*,
        case when not variants then null
          when r_variant < holdout then 'holdout'
          when r_variant < holdout + (1 - holdout) / 2 then 'a' else 'b' end as variant,
        case when r_variant < holdout then 'holdout'
          when r_suppress < 0.03 then 'no_device'
          when r_suppress < 0.04 then 'opted_out'
          when category = 'orders' then case when r_suppress < 0.05 then 'frequency_cap' end
          when r_suppress < 0.10 then 'category_opted_out'
          when r_suppress < 0.12 then 'duplicate'
          when r_suppress < 0.15 then 'frequency_cap'
          when r_suppress < 0.155 then 'expired'
        end as suppressed_by,
        case when r_quiet < 0.25 and rule_id <> 'order-shipped'
          then r_quiet * 40 * interval '1 hour' else interval '0' end as quiet
      from ruled r
    ), scheduled as (
      select p.*, created_at + delay + quiet as due,
        nullif(concat_ws(',', case when delay > interval '0' then 'delay' end,
          case when quiet > interval '0' then 'quiet_hours' end), '') as deferred_by
      from planned p
    ), settled as (
      select s.*,
        case when suppressed_by is not null then 'suppressed'
          when due >= end_at then 'pending'
          when rule_id = 'cart-abandoned' and r_outcome < 0.2 then 'cancelled'
          when r_outcome >= 0.97 then 'failed' else 'sent' end as status,
        case when r_outcome < 0.97 + 0.03 * 0.55 then 'invalid_token'
          when r_outcome < 0.97 + 0.03 * 0.75 then 'retries_exhausted: provider_error'
          when r_outcome < 0.97 + 0.03 * 0.9 then 'INVALID_ARGUMENT'
          else 'PayloadTooLarge' end as failure,
        due + r_lag * interval '3 seconds' as sent_time
      from scheduled s
    ), fed as (
      select t.*,
        case when status = 'sent' and r_received < 0.85 then sent_time + r_lag * interval '30 seconds' end as received,
        case when status = 'sent' and r_opened < case variant when 'b' then 0.11 else 0.09 end
          then sent_time + r_lag * interval '2 hours' end as opened,
        case when status = 'sent' and r_opened >= 0.995 then sent_time + interval '1 second' end as bounced
      from settled t
    ), converted as (
      select f.*,
        case when opened is not null and r_converted < case variant when 'a' then 0.2 when 'b' then 0.25 else 0.15 end
          then opened + r_lag * interval '20 hours' end as conversion
      from fed f
    )
    insert into notifications (user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, category, status, reason, deferred_by, send_at, expires_at, content,
      created_at, updated_at, attempts, claimed_until, sent_at, received_at, opened_at,
      bounced_at, converted_at, conversion_message_id, platforms, invalid_token)
    select 'user-' || lpad(u::text, 7, '0'), gen_random_uuid()::text,
      rule_id || ':' || case when collection then block else i end, rule_id, rule_version,
      case when collection then 'sku-' || block % 997 end, variant, category, status,
      case status when 'suppressed' then suppressed_by when 'failed' then failure
        when 'cancelled' then 'cancelled_by:order-' || i end,
      case when status <> 'suppressed' then deferred_by end,
      case when status = 'suppressed' then created_at else due end,
      case when status <> 'suppressed' and rule_id = ${MEASURED_RULE} then created_at + interval '12 hours' end,
      case when status = 'suppressed' then 'null'::jsonb else jsonb_build_object(
        'title', 'Aurora Desk Lamp ' || block % 997 || ' is on sale',
        'body', 'Hi there, now ' || (9 + block % 90) || '.99',
        'deepLink', 'shop://product/sku-' || block % 997,
        'image', 'https://img.example/sku-' || block % 997 || '.jpg',
        'data', '{}'::jsonb) end,
      created_at,
      greatest(created_at, ${future("sent_time")}, ${future("received")}, ${future("opened")}, ${future("conversion")}),
      case when status in ('sent', 'failed') then case when failure like 'retries%' then 5 else 1 end else 0 end,
      null, case when status = 'sent' then sent_time end,
      ${future("received")}, ${future("opened")}, ${future("bounced")}, ${future("conversion")},
      case when ${future("conversion")} is not null then 'order-' || i end,
      -- What delivery records beside the deliveries loadDeliveries writes.
      case when status in ('sent', 'failed') then (
        select array_agg(distinct dv.platform order by dv.platform) from devices dv
        where dv.user_id = 'user-' || lpad(u::text, 7, '0')) else '{}' end,
      status = 'failed' and failure = 'invalid_token'
    from converted
    order by i`.execute(db);
}

/**
 * One delivery per sent or failed notification, to the user's device: sent, or the
 * provider's answer to a failed one (invalid_token when the token was refused).
 */
async function loadDeliveries(db: Kysely<DB>): Promise<void> {
  await sql`
    insert into deliveries (user_id, notification_id, device_id, platform, provider, status,
      reason, provider_message_id, attempts, created_at, updated_at)
    select n.user_id, n.notification_id, d.device_id, d.platform, d.platform,
      case when n.status = 'sent' then 'sent'
        when n.reason = 'invalid_token' then 'invalid_token' else 'failed' end,
      case when n.status = 'sent' then null
        when n.reason = 'invalid_token' then case d.platform when 'apns' then 'BadDeviceToken'
          when 'fcm' then 'UNREGISTERED' else 'Gone' end
        else n.reason end,
      case when n.status = 'sent' then md5(n.notification_id) end,
      n.attempts, n.send_at, n.send_at
    from notifications n
    join devices d on d.user_id = n.user_id
    where n.status in ('sent', 'failed')
    order by n.created_at`.execute(db);
}

/**
 * The events the conversions came from, and those of the holdout: 2% of the held-out
 * users order within 20 hours, 1% more a day or two later (outside the 24 h window).
 */
async function loadEvents(db: Kysely<DB>, shape: DataShape): Promise<void> {
  await sql`
    insert into events (message_id, user_id, type, event, payload, timestamp, received_at)
    select conversion_message_id, user_id, 'track', 'Order Completed',
      json_build_object('event', 'Order Completed', 'properties', json_build_object('revenue', 42)),
      converted_at, converted_at
    from notifications where conversion_message_id is not null`.execute(db);
  await sql`
    insert into events (message_id, user_id, type, event, payload, timestamp, received_at)
    select 'order-held-' || notification_id, user_id, 'track', 'Order Completed',
      json_build_object('event', 'Order Completed', 'properties', json_build_object('revenue', 42)),
      at, at
    from (
      select notification_id, user_id, r,
        created_at + case when r < 0.02 then r * 50 * interval '20 hours'
          else (r - 0.02) * 100 * interval '1 day' + interval '1 day' end as at
      from (select *, random() as r from notifications where variant = 'holdout') h
      where r < 0.03
    ) o
    where at < ${shape.end}::timestamptz`.execute(db);
}

/**
 * Fills a migrated, empty database, on one connection so that the seeded draws are the
 * same on every run; statistics and visibility maps are then made fresh, now rather
 * than by autovacuum during a measurement.
 */
export async function loadStatsData(
  db: Kysely<DB>,
  book: RuleBook,
  shape: DataShape,
): Promise<void> {
  await db.connection().execute(async (connection) => {
    await loadDevices(connection, shape);
    await loadNotifications(connection, book, shape);
    await loadDeliveries(connection);
    await loadEvents(connection, shape);
  });
  await sql`vacuum analyze`.execute(db);
}
