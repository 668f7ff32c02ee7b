import { sql, type Kysely } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import { NotificationStatus, type DB, type JsonObject } from "../db/schema.ts";
// Named apart from this file's Deferral, a claim put back to wait.
import { Deferral as DeferredBy } from "../rules/send-schedule.ts";
import type { UnwrittenNotification } from "./outbox.repository.ts";

/*
 * Delivery's claims on due notifications: taken with SKIP LOCKED under a lease, given
 * back when the lease lapses, or put back to wait for the end of quiet hours.
 */

/**
 * A notification claimed for sending. `claimedUntil` is its lease and fencing token;
 * `unwritten` is set for one handed over by planning that has no row yet.
 */
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
  unwritten?: UnwrittenNotification | undefined;
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
        when n.deferred_by is null then ${DeferredBy.quietHours}
        when ${DeferredBy.quietHours} = any(string_to_array(n.deferred_by, ',')) then n.deferred_by
        else n.deferred_by || ',' || ${DeferredBy.quietHours} end,
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
