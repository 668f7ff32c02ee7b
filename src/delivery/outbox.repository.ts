import { sql, type Kysely } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import { NotificationStatus, type DB, type JsonObject } from "../db/schema.ts";
import type { UserRows } from "../profiles/user-rows.ts";
import { eraseDeliveries, moveDeliveries } from "./deliveries.repository.ts";

/*
 * The outbox: notifications waiting to be sent, as planning writes them and delivery
 * claims them (claim.repository.ts). Outcomes are written by outcome.repository.ts.
 */

/** A notification as planning decided it, before it is written. */
export type NewNotification = {
  userId: string;
  notificationId: string;
  matchId: string;
  ruleId: string;
  ruleVersion: string;
  itemKey: string | null;
  variant: string | undefined;
  /** The send-time arm, for a window that learns send times. */
  timing?: string | undefined;
  category: string | undefined;
  status: NotificationStatus;
  reason: string | undefined;
  deferredBy: readonly string[];
  sendAt: Date;
  expiresAt: Date | undefined;
  content: JsonObject | undefined;
};

/** A notification handed from planning to delivery unwritten, and when it was planned. */
export type UnwrittenNotification = NewNotification & { plannedAt: Date };

/** The columns of a planned notification, as `jsonRows` reads `plannedRecord`'s cells. */
export const NOTIFICATION_COLUMNS = {
  user_id: "text",
  notification_id: "text",
  match_id: "text",
  rule_id: "text",
  rule_version: "text",
  item_key: "text",
  variant: "text",
  timing: "text",
  category: "text",
  status: "text",
  reason: "text",
  deferred_by: "text",
  send_at: "timestamptz",
  expires_at: "timestamptz",
  content: "jsonb",
};

/** A planned notification's cells as `jsonRows` takes them. */
export function plannedRecord(n: NewNotification) {
  return {
    user_id: n.userId,
    notification_id: n.notificationId,
    match_id: n.matchId,
    rule_id: n.ruleId,
    rule_version: n.ruleVersion,
    item_key: n.itemKey,
    variant: n.variant ?? null,
    timing: n.timing ?? null,
    category: n.category ?? null,
    status: n.status,
    reason: n.reason ?? null,
    deferred_by: joinedReasons(n.deferredBy),
    send_at: isoTime(n.sendAt),
    expires_at: isoTime(n.expiresAt),
    content: n.content ?? null,
  };
}

/** `deferred_by`: what made a notification wait, each named once; null for nothing. */
export function joinedReasons(reasons: readonly string[]): string | null {
  return reasons.length === 0 ? null : [...new Set(reasons)].join(",");
}

/**
 * Inserts a page of planned notifications in one statement, the page as one jsonb
 * parameter (see bulk-sql.ts), and returns the ids of those inserted. A (match, user)
 * pair that already has one is skipped, so re-expanding a page after a crash adds
 * nobody twice.
 */
export async function insertNotifications(
  db: Kysely<DB>,
  rows: readonly NewNotification[],
  now: Date,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  // A suppressed row's content is the JSON null, as it always was, not SQL NULL.
  const result = await sql<{ notification_id: string }>`
    insert into notifications (user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, timing, category, status, reason, deferred_by, send_at,
      expires_at, content, created_at, updated_at)
    select user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, timing, category, status, reason, deferred_by, send_at, expires_at,
      coalesce(content, 'null'::jsonb), ${now}::timestamptz, ${now}::timestamptz
    from ${jsonRows(rows.map(plannedRecord), NOTIFICATION_COLUMNS)}
    order by ord
    on conflict (match_id, user_id) do nothing
    returning notification_id`.execute(db);
  return new Set(result.rows.map((row) => row.notification_id));
}

/**
 * The users among `userIds` that already have a notification of this match: one probe
 * of the (match, user) key per user. A join would let the planner read every
 * notification of the match instead, a read that grows with each page of a fan-out.
 */
export async function recipientsWritten(
  db: Kysely<DB>,
  matchId: string,
  userIds: readonly string[],
): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const result = await sql<{ user_id: string }>`
    select u.user_id
    from unnest(${userIds}::text[]) as u (user_id)
    cross join lateral (
      select from notifications n
      where n.match_id = ${matchId} and n.user_id = u.user_id
      offset 0
    ) as n`.execute(db);
  return new Set(result.rows.map((row) => row.user_id));
}

/**
 * Cancels pending notifications: a user's of some rules (a `cancelIf` event arrived),
 * or one match's (an operator cancelled it). Returns how many.
 */
export async function cancelPendingNotifications(
  db: Kysely<DB>,
  of: { userId: string; ruleIds: readonly string[] } | { matchId: string },
  reason: string,
  now: Date,
): Promise<number> {
  let update = db
    .updateTable("notifications")
    .set({ status: NotificationStatus.cancelled, reason, updated_at: now })
    .where("status", "=", NotificationStatus.pending);
  update =
    "matchId" in of
      ? update.where("match_id", "=", of.matchId)
      : update
          .where("user_id", "=", of.userId)
          .where("rule_id", "in", of.ruleIds);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** How many notifications of one match are in each status. */
export async function countMatchNotifications(
  db: Kysely<DB>,
  matchId: string,
): Promise<Partial<Record<NotificationStatus, number>>> {
  const rows = await db
    .selectFrom("notifications")
    .select(["status", (eb) => eb.fn.countAll<string>().as("count")])
    .where("match_id", "=", matchId)
    .groupBy("status")
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
}

/**
 * A user's notification history (notifications and their deliveries), as a merge moves
 * it and an erasure deletes it. Where both users had a notification of the same match,
 * the known user's is kept; a delivery goes where its notification went.
 */
export const notificationRows: UserRows = {
  async move(db, from, into) {
    await sql`
      update notifications n set user_id = ${into}
      where n.user_id = ${from}
        and not exists (select from notifications k where k.user_id = ${into} and k.match_id = n.match_id)`.execute(
      db,
    );
    await db.deleteFrom("notifications").where("user_id", "=", from).execute();
    await moveDeliveries(db, from, into);
  },
  async erase(db, userId) {
    await db
      .deleteFrom("notifications")
      .where("user_id", "=", userId)
      .execute();
    await eraseDeliveries(db, userId);
  },
};
