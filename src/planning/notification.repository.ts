import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { NotificationStatus, type DB, type JsonObject } from "../db/schema.ts";

export type NewNotification = {
  userId: string;
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
};

/** Statuses of messages that were or will be sent: what caps and dedupe count. */
export const COUNTED_STATUSES = [
  NotificationStatus.pending,
  "sending",
  "sent",
] as const;

/**
 * Inserts a page of planned notifications in one statement. A (match, user) pair that
 * already has one is skipped, so re-expanding a page after a crash adds nobody twice.
 */
export async function insertNotifications(
  db: Kysely<DB>,
  rows: readonly NewNotification[],
  now: Date,
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db
    .insertInto("notifications")
    .values(
      rows.map((n) => ({
        user_id: n.userId,
        notification_id: randomUUID(),
        match_id: n.matchId,
        rule_id: n.ruleId,
        rule_version: n.ruleVersion,
        item_key: n.itemKey,
        variant: n.variant ?? null,
        category: n.category ?? null,
        status: n.status,
        reason: n.reason ?? null,
        deferred_by: n.deferredBy.length === 0 ? null : n.deferredBy.join(","),
        send_at: n.sendAt,
        expires_at: n.expiresAt ?? null,
        content: JSON.stringify(n.content ?? null),
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(["match_id", "user_id"]).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n);
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

export type NotificationView = {
  notificationId: string;
  userId: string;
  ruleId: string;
  ruleVersion: string;
  itemKey: string | null;
  variant: string | null;
  category: string | null;
  status: string;
  reason: string | null;
  deferredBy: string[];
  sendAt: Date;
  expiresAt: Date | null;
  content: JsonObject | null;
  createdAt: Date;
};

/** A user's notifications, newest first. */
export async function listUserNotifications(
  db: Kysely<DB>,
  userId: string,
  limit: number,
): Promise<NotificationView[]> {
  const rows = await db
    .selectFrom("notifications")
    .selectAll()
    .where("user_id", "=", userId)
    .orderBy("created_at", "desc")
    .orderBy("notification_id")
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    notificationId: row.notification_id,
    userId: row.user_id,
    ruleId: row.rule_id,
    ruleVersion: row.rule_version,
    itemKey: row.item_key,
    variant: row.variant,
    category: row.category,
    status: row.status,
    reason: row.reason,
    deferredBy: row.deferred_by === null ? [] : row.deferred_by.split(","),
    sendAt: row.send_at,
    expiresAt: row.expires_at,
    content: row.content,
    createdAt: row.created_at,
  }));
}
