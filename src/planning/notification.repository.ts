import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import { NotificationStatus, type DB, type JsonObject } from "../db/schema.ts";
import type { Decision } from "../rules/policy.ts";
import type { Rule } from "../rules/rule-book.ts";
import type { Match } from "./match.repository.ts";
import type { AudienceMember } from "../delivery/recipient.repository.ts";

export type NewNotification = {
  userId: string;
  notificationId: string;
  matchId: string;
  ruleId: string;
  ruleVersion: string;
  itemKey: string | null;
  variant: string | undefined;
  category: string | undefined;
  status: string;
  reason: string | undefined;
  deferredBy: readonly string[];
  sendAt: Date;
  expiresAt: Date | undefined;
  content: JsonObject | undefined;
  /** Set when it is written claimed by this process's delivery: its lease. */
  claimedUntil?: Date | undefined;
};

const NOTIFICATION_COLUMNS = {
  user_id: "text",
  notification_id: "text",
  match_id: "text",
  rule_id: "text",
  rule_version: "text",
  item_key: "text",
  variant: "text",
  category: "text",
  status: "text",
  reason: "text",
  deferred_by: "text",
  send_at: "timestamptz",
  expires_at: "timestamptz",
  content: "jsonb",
  claimed_until: "timestamptz",
};

/**
 * Inserts a page of planned notifications in one statement, the page as one jsonb
 * parameter (see bulk-sql.ts), and returns the ids of those inserted. A (match, user)
 * pair that already has one is skipped, so re-expanding a page after a crash adds
 * nobody twice. A claimed one is written as its first attempt, under its lease.
 */
export async function insertNotifications(
  db: Kysely<DB>,
  rows: readonly NewNotification[],
  now: Date,
): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const records = rows.map((n) => ({
    user_id: n.userId,
    notification_id: n.notificationId,
    match_id: n.matchId,
    rule_id: n.ruleId,
    rule_version: n.ruleVersion,
    item_key: n.itemKey,
    variant: n.variant ?? null,
    category: n.category ?? null,
    status: n.status,
    reason: n.reason ?? null,
    deferred_by: n.deferredBy.length === 0 ? null : n.deferredBy.join(","),
    send_at: isoTime(n.sendAt),
    expires_at: isoTime(n.expiresAt),
    content: n.content ?? null,
    claimed_until: isoTime(n.claimedUntil),
  }));
  // A suppressed row's content is the JSON null, as it always was, not SQL NULL.
  const result = await sql<{ notification_id: string }>`
    insert into notifications (user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, category, status, reason, deferred_by, send_at, expires_at,
      content, claimed_until, attempts, created_at, updated_at)
    select user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, category, status, reason, deferred_by, send_at, expires_at,
      coalesce(content, 'null'::jsonb), claimed_until,
      case when claimed_until is null then 0 else 1 end,
      ${now}::timestamptz, ${now}::timestamptz
    from ${jsonRows(records, NOTIFICATION_COLUMNS)}
    order by ord
    on conflict (match_id, user_id) do nothing
    returning notification_id`.execute(db);
  return new Set(result.rows.map((row) => row.notification_id));
}

/** Cancels a user's pending notifications of the given rules (a `cancelIf` event arrived). */
export async function cancelPendingNotifications(
  db: Kysely<DB>,
  userId: string,
  ruleIds: readonly string[],
  reason: string,
  now: Date,
): Promise<number> {
  const result = await db
    .updateTable("notifications")
    .set({ status: NotificationStatus.cancelled, reason, updated_at: now })
    .where("user_id", "=", userId)
    .where("rule_id", "in", ruleIds)
    .where("status", "=", NotificationStatus.pending)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The notification row of one recipient's decision. */
export function toNotification(
  match: Match,
  rule: Rule,
  member: AudienceMember,
  decision: Decision,
): NewNotification {
  const common = {
    userId: member.userId,
    notificationId: randomUUID(),
    matchId: match.matchId,
    ruleId: rule.id,
    ruleVersion: rule.version,
    itemKey: match.itemKey,
    variant: decision.variant,
    category: rule.category,
  };
  if (decision.status === "suppressed") {
    return {
      ...common,
      status: NotificationStatus.suppressed,
      reason: decision.reason,
      deferredBy: [],
      sendAt: match.triggeredAt,
      expiresAt: undefined,
      content: undefined,
    };
  }
  return {
    ...common,
    status: NotificationStatus.pending,
    reason: undefined,
    deferredBy: decision.deferredBy,
    sendAt: decision.sendAt,
    expiresAt: decision.expiresAt,
    content: decision.content,
  };
}

/** The notification, claimed for delivery in this process as it is written. */
export function claimedAs(
  notification: NewNotification,
  claimedUntil: Date,
): NewNotification {
  return { ...notification, status: NotificationStatus.sending, claimedUntil };
}

/** Whether any of these notifications is pending and due at `now`. */
export function anyDueNow(
  notifications: readonly NewNotification[],
  now: Date,
): boolean {
  return notifications.some(
    (n) => n.status === NotificationStatus.pending && n.sendAt <= now,
  );
}
