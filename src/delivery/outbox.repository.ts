import { sql, type Kysely } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import {
  DeliveryStatus,
  DeviceStatus,
  NotificationStatus,
  type DB,
  type JsonObject,
  type Platform,
} from "../db/schema.ts";

/** A notification claimed for sending. `claimedUntil` is its lease and fencing token. */
export type ClaimedNotification = {
  userId: string;
  notificationId: string;
  ruleId: string;
  itemKey: string | null;
  category: string | null;
  /** This claim's attempt, counting from 1. */
  attempt: number;
  expiresAt: Date | null;
  content: JsonObject | null;
  createdAt: Date;
  claimedUntil: Date;
};

/**
 * Claims up to `limit` due notifications, oldest due first, for `leaseMs`. SKIP LOCKED
 * lets any number of processes claim at once without waiting on or taking each
 * other's rows.
 *
 * The due rows are read in send_at order from the index, stopping at `limit`. A bitmap
 * scan would read every entry of the index before sorting, and the planner picks one
 * whenever its statistics think few rows are due, as they do while a fan-out fills the
 * table faster than it is analysed: every claim would then read every entry left by
 * the rows claimed since the last vacuum.
 */
export async function claimDueNotifications(
  db: Kysely<DB>,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<ClaimedNotification[]> {
  const claimedUntil = new Date(now.getTime() + leaseMs);
  const rows = await db.transaction().execute(async (trx) => {
    await sql`set local enable_bitmapscan = off`.execute(trx);
    return claimDue(trx, now, limit, claimedUntil);
  });
  return rows.map((row) => ({
    userId: row.user_id,
    notificationId: row.notification_id,
    ruleId: row.rule_id,
    itemKey: row.item_key,
    category: row.category,
    attempt: row.attempts,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
    content: row.content,
    createdAt: new Date(row.created_at),
    claimedUntil,
  }));
}

async function claimDue(
  db: Kysely<DB>,
  now: Date,
  limit: number,
  claimedUntil: Date,
) {
  const result = await sql<{
    user_id: string;
    notification_id: string;
    rule_id: string;
    item_key: string | null;
    category: string | null;
    attempts: number;
    expires_at: Date | null;
    content: JsonObject | null;
    created_at: Date;
  }>`
    update notifications n
    set status = ${NotificationStatus.sending}, attempts = n.attempts + 1,
      claimed_until = ${claimedUntil}, updated_at = ${now}
    from (
      select user_id, notification_id from notifications
      where status = ${NotificationStatus.pending} and send_at <= ${now}
      order by send_at
      limit ${limit}
      for update skip locked
    ) as due
    where n.user_id = due.user_id and n.notification_id = due.notification_id
    returning n.user_id, n.notification_id, n.rule_id, n.item_key, n.category,
      n.attempts, n.expires_at, n.content, n.created_at`.execute(db);
  return result.rows;
}

/**
 * Returns to the queue the notifications whose claim lapsed: their process died (or
 * stalled) between claiming and recording. Their sends may have reached devices; the
 * shared collapse id makes a repeat replace the first on the device.
 */
export async function reclaimLapsedClaims(
  db: Kysely<DB>,
  now: Date,
): Promise<number> {
  const result = await db
    .updateTable("notifications")
    .set({
      status: NotificationStatus.pending,
      claimed_until: null,
      updated_at: now,
    })
    .where("status", "=", NotificationStatus.sending)
    .where("claimed_until", "<", now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * The devices an earlier attempt of these notifications already settled (sent, dead
 * token, failed for good), by notification then device: a retry skips them.
 */
export async function listSettledDeliveries(
  db: Kysely<DB>,
  notifications: readonly { userId: string; notificationId: string }[],
): Promise<Map<string, Map<string, DeliveryStatus>>> {
  const settled = new Map<string, Map<string, DeliveryStatus>>();
  if (notifications.length === 0) return settled;
  const result = await sql<{
    notification_id: string;
    device_id: string;
    status: DeliveryStatus;
  }>`
    select d.notification_id, d.device_id, d.status
    from deliveries d
    join unnest(${notifications.map((n) => n.userId)}::text[],
                ${notifications.map((n) => n.notificationId)}::text[])
      as c (user_id, notification_id)
      on d.user_id = c.user_id and d.notification_id = c.notification_id
    where d.status <> ${DeliveryStatus.retry}`.execute(db);
  for (const row of result.rows) {
    let devices = settled.get(row.notification_id);
    if (devices === undefined) {
      devices = new Map();
      settled.set(row.notification_id, devices);
    }
    devices.set(row.device_id, row.status);
  }
  return settled;
}

/** A claimed notification that must wait for the end of its user's quiet hours. */
export type Deferral = {
  notificationId: string;
  claimedUntil: Date;
  until: Date;
};

/**
 * Puts claimed notifications back in the queue until their user's quiet hours end,
 * as quiet hours deferred them when they were planned: the claim's attempt is given
 * back, and `deferred_by` names quiet hours. Like a settlement, only while this
 * process's claim stands.
 */
export async function deferClaimed(
  db: Kysely<DB>,
  deferrals: readonly Deferral[],
  now: Date,
): Promise<void> {
  if (deferrals.length === 0) return;
  const rows = deferrals.map((d) => ({
    notification_id: d.notificationId,
    claimed_until: isoTime(d.claimedUntil),
    send_at: isoTime(d.until),
  }));
  await sql`
    update notifications n
    set status = ${NotificationStatus.pending}, claimed_until = null,
      send_at = u.send_at, attempts = n.attempts - 1,
      deferred_by = case
        when n.deferred_by is null then ${QUIET_HOURS}
        when ${QUIET_HOURS} = any(string_to_array(n.deferred_by, ',')) then n.deferred_by
        else n.deferred_by || ',' || ${QUIET_HOURS} end,
      updated_at = ${now}
    from ${jsonRows(
      rows,
      {
        notification_id: "text",
        claimed_until: "timestamptz",
        send_at: "timestamptz",
      },
      "u",
    )}
    where n.notification_id = u.notification_id
      and n.claimed_until = u.claimed_until`.execute(db);
}

const QUIET_HOURS = "quiet_hours";

/** A claimed notification's new state: settled, or pending again for a retry. */
export type NotificationUpdate = {
  userId: string;
  notificationId: string;
  claimedUntil: Date;
  status: NotificationStatus;
  reason: string | null;
  /** For a retry: when to try again. */
  sendAt: Date | null;
  sentAt: Date | null;
  /** For a release (shutdown before sending): give the attempt back. */
  releasedAttempt: boolean;
};

export type DeliveryRecord = {
  userId: string;
  notificationId: string;
  deviceId: string;
  platform: Platform;
  provider: string;
  status: DeliveryStatus;
  reason: string | null;
  providerMessageId: string | null;
  attempts: number;
};

export type DeviceDisabling = {
  userId: string;
  deviceId: string;
  platform: Platform;
  token: string;
  provider: string;
  reason: string;
  notificationId: string;
};

export type Outcomes = {
  notifications: readonly NotificationUpdate[];
  deliveries: readonly DeliveryRecord[];
  disablings: readonly DeviceDisabling[];
};

/**
 * Records a batch of outcomes in one statement. A notification is updated only while
 * this process's claim on it stands (`claimed_until` is the fencing token): once the
 * lease lapsed and another process claimed it again, that process owns the row.
 * Notifications are found by their id alone, which is unique, and deliveries are
 * recorded under the user the notification has now: a profile merged into another
 * while its push was in flight has moved it, and the outcome must follow, or the push
 * would be sent again.
 */
export async function recordOutcomes(
  db: Kysely<DB>,
  outcomes: Outcomes,
  now: Date,
): Promise<void> {
  const { notifications, deliveries, disablings } = outcomes;
  if (notifications.length + deliveries.length + disablings.length === 0)
    return;
  const clauses = [
    sql`settled as (${updateNotifications(notifications, deliveries, now)}
      returning n.user_id, n.notification_id)`,
  ];
  if (deliveries.length > 0) {
    clauses.push(
      // One lookup object, not a join: the planner, guessing the settled rows
      // few, would compare every delivery with every one of them.
      sql`moved as (select jsonb_object_agg(notification_id, user_id) as users
        from settled)`,
      sql`delivered as (${upsertDeliveries(deliveries, now)})`,
    );
  }
  if (disablings.length > 0) {
    clauses.push(
      sql`disabled as (${disableDevices(disablings, now)})`,
      sql`audited as (${auditDisablings(disablings, now)})`,
    );
  }
  await sql`with ${sql.join(clauses)} select 1`.execute(db);
}

/**
 * Settles notifications, as the `settled` clause of recordOutcomes' statement. Each
 * one also gathers the platforms its deliveries went to (or tried) and whether any met
 * a dead token, across attempts: the stats read them from the notification.
 *
 * The claim is recognised by `claimed_until` alone, which only a "sending" row has.
 * Saying `status = 'sending'` as well would offer the planner the partial index of
 * claimed rows, which during a fan-out holds an entry for every row claimed since the
 * last vacuum: each batch would read them all.
 */
function updateNotifications(
  updates: readonly NotificationUpdate[],
  deliveries: readonly DeliveryRecord[],
  now: Date,
) {
  const tried = new Map<string, { platforms: Set<string>; invalid: boolean }>();
  for (const d of deliveries) {
    const key = `${d.userId}\n${d.notificationId}`;
    const seen = tried.get(key) ?? { platforms: new Set(), invalid: false };
    seen.platforms.add(d.platform);
    seen.invalid ||= d.status === DeliveryStatus.invalidToken;
    tried.set(key, seen);
  }
  const rows = updates.map((u) => {
    const seen = tried.get(`${u.userId}\n${u.notificationId}`);
    return {
      user_id: u.userId,
      notification_id: u.notificationId,
      claimed_until: isoTime(u.claimedUntil),
      status: u.status,
      reason: u.reason,
      send_at: isoTime(u.sendAt),
      sent_at: isoTime(u.sentAt),
      released: u.releasedAttempt,
      platforms: [...(seen?.platforms ?? [])],
      invalid_token: seen?.invalid ?? false,
    };
  });
  return sql`
    update notifications n
    set status = u.status, reason = u.reason, claimed_until = null,
      send_at = coalesce(u.send_at, n.send_at),
      sent_at = coalesce(n.sent_at, u.sent_at),
      attempts = case when u.released then n.attempts - 1 else n.attempts end,
      platforms = array(
        select distinct p from unnest(n.platforms || u.platforms) p order by p),
      invalid_token = n.invalid_token or u.invalid_token,
      updated_at = ${now}
    from ${jsonRows(
      rows,
      {
        user_id: "text",
        notification_id: "text",
        claimed_until: "timestamptz",
        status: "text",
        reason: "text",
        send_at: "timestamptz",
        sent_at: "timestamptz",
        released: "boolean",
        platforms: "text[]",
        invalid_token: "boolean",
      },
      "u",
    )}
    where n.notification_id = u.notification_id
      and n.claimed_until = u.claimed_until`;
}

/**
 * Records deliveries beside the `settled` notifications of the same statement, under
 * their user (under the claimed one when the claim had lapsed and nothing was settled).
 */
function upsertDeliveries(records: readonly DeliveryRecord[], now: Date) {
  const rows = records.map((d) => ({
    user_id: d.userId,
    notification_id: d.notificationId,
    device_id: d.deviceId,
    platform: d.platform,
    provider: d.provider,
    status: d.status,
    reason: d.reason,
    provider_message_id: d.providerMessageId,
    attempts: d.attempts,
  }));
  return sql`
    insert into deliveries (user_id, notification_id, device_id, platform, provider,
      status, reason, provider_message_id, attempts, created_at, updated_at)
    select coalesce((select users from moved) ->> r.notification_id, r.user_id),
      r.notification_id, device_id, platform, provider, status, reason,
      provider_message_id, attempts, ${now}::timestamptz, ${now}::timestamptz
    from ${jsonRows(rows, {
      user_id: "text",
      notification_id: "text",
      device_id: "text",
      platform: "text",
      provider: "text",
      status: "text",
      reason: "text",
      provider_message_id: "text",
      attempts: "integer",
    })}
    order by ord
    on conflict (user_id, notification_id, device_id) do update
    set status = excluded.status, reason = excluded.reason,
      provider = excluded.provider, provider_message_id = excluded.provider_message_id,
      attempts = excluded.attempts, updated_at = excluded.updated_at`;
}

/** Disables each device only while it still holds the token that was refused. */
function disableDevices(disablings: readonly DeviceDisabling[], now: Date) {
  // By token, whoever holds the device now: a merge or a newer owner moves it.
  const rows = uniqueByDevice(disablings).map((d) => ({
    platform: d.platform,
    token: d.token,
    device_id: d.deviceId,
    reason: `${d.provider}: ${d.reason}`,
  }));
  return sql`
    update devices d
    set status = ${DeviceStatus.disabled}, disabled_reason = r.reason,
      disabled_at = ${now}, updated_at = ${now}
    from ${jsonRows(rows, { platform: "text", token: "text", device_id: "text", reason: "text" })}
    where d.platform = r.platform and d.token = r.token and d.device_id = r.device_id
      and d.status = ${DeviceStatus.active}`;
}

function auditDisablings(disablings: readonly DeviceDisabling[], now: Date) {
  const rows = uniqueByDevice(disablings).map((d) => ({
    user_id: d.userId,
    device_id: d.deviceId,
    platform: d.platform,
    token: d.token,
    provider: d.provider,
    reason: d.reason,
    notification_id: d.notificationId,
  }));
  return sql`
    insert into device_disablings (user_id, device_id, platform, token, provider,
      reason, notification_id, disabled_at)
    select user_id, device_id, platform, token, provider, reason, notification_id,
      ${now}::timestamptz
    from ${jsonRows(rows, {
      user_id: "text",
      device_id: "text",
      platform: "text",
      token: "text",
      provider: "text",
      reason: "text",
      notification_id: "text",
    })}
    order by ord
    on conflict do nothing`;
}

function uniqueByDevice(
  disablings: readonly DeviceDisabling[],
): DeviceDisabling[] {
  const byDevice = new Map<string, DeviceDisabling>();
  for (const d of disablings) byDevice.set(`${d.userId}\0${d.deviceId}`, d);
  return [...byDevice.values()];
}
