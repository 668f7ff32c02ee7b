import { sql, type Kysely, type Selectable } from "kysely";
import type { DB, JsonObject, NotificationsTable } from "../db/schema.ts";

export type NotificationFilter = {
  userId: string | undefined;
  ruleId: string | undefined;
  status: string | undefined;
};

/** Where a page ends: the last row's creation time and key, newest first. */
export type PageCursor = {
  createdAt: Date;
  userId: string;
  notificationId: string;
};

export type DeliveryView = {
  deviceId: string;
  platform: string;
  provider: string;
  status: string;
  reason: string | null;
  attempts: number;
  updatedAt: Date;
};

export type NotificationRecord = {
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
  attempts: number;
  sentAt: Date | null;
  receivedAt: Date | null;
  openedAt: Date | null;
  bouncedAt: Date | null;
  convertedAt: Date | null;
  content: JsonObject | null;
  createdAt: Date;
  updatedAt: Date;
  deliveries: DeliveryView[];
};

/**
 * One page of notifications, newest first, with each one's deliveries. Filtered by user
 * or rule (at least one, each served by its own index), optionally by status; the page
 * after `cursor` is found by keyset, not by offset, so deep pages cost what the first
 * one does.
 */
export async function listNotifications(
  db: Kysely<DB>,
  filter: NotificationFilter,
  after: PageCursor | undefined,
  limit: number,
): Promise<NotificationRecord[]> {
  const rows = await selectNotificationPage(db, filter, after, limit);
  if (rows.length === 0) return [];
  const byNotification = await loadDeliveryViews(db, rows);
  return rows.map((row) =>
    toNotificationRecord(
      row,
      byNotification.get(row.notification_id) ?? sentAlone(row),
    ),
  );
}

type NotificationRow = Selectable<NotificationsTable>;

/** The page's notification rows, newest first, after `after` by keyset. */
function selectNotificationPage(
  db: Kysely<DB>,
  filter: NotificationFilter,
  after: PageCursor | undefined,
  limit: number,
): Promise<NotificationRow[]> {
  let query = db.selectFrom("notifications").selectAll();
  if (filter.userId !== undefined)
    query = query.where("user_id", "=", filter.userId);
  if (filter.ruleId !== undefined)
    query = query.where("rule_id", "=", filter.ruleId);
  if (filter.status !== undefined)
    query = query.where("status", "=", filter.status);
  if (after !== undefined) {
    query = query.where(
      sql<boolean>`(created_at, user_id, notification_id) < (${after.createdAt}, ${after.userId}, ${after.notificationId})`,
    );
  }
  return query
    .orderBy("created_at", "desc")
    .orderBy("user_id", "desc")
    .orderBy("notification_id", "desc")
    .limit(limit)
    .execute();
}

/** The deliveries of the page's notifications, in one query, by notification id. */
async function loadDeliveryViews(
  db: Kysely<DB>,
  rows: readonly NotificationRow[],
): Promise<Map<string, DeliveryView[]>> {
  const deliveries = await db
    .selectFrom("deliveries")
    .selectAll()
    .where(
      sql<boolean>`(user_id, notification_id) in (select * from unnest(${rows.map((r) => r.user_id)}::text[], ${rows.map((r) => r.notification_id)}::text[]))`,
    )
    .orderBy("platform")
    .orderBy("device_id")
    .execute();
  const byNotification = new Map<string, DeliveryView[]>();
  for (const d of deliveries) {
    const list = byNotification.get(d.notification_id) ?? [];
    list.push({
      deviceId: d.device_id,
      platform: d.platform,
      provider: d.provider,
      status: d.status,
      reason: d.reason,
      attempts: d.attempts,
      updatedAt: d.updated_at,
    });
    byNotification.set(d.notification_id, list);
  }
  return byNotification;
}

function toNotificationRecord(
  row: NotificationRow,
  deliveries: DeliveryView[],
): NotificationRecord {
  return {
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
    attempts: row.attempts,
    sentAt: row.sent_at,
    receivedAt: row.received_at,
    openedAt: row.opened_at,
    bouncedAt: row.bounced_at,
    convertedAt: row.converted_at,
    content: row.content,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveries,
  };
}

/**
 * The delivery of a notification sent to one device at its first attempt, which is
 * kept on the notification rather than in a row of its own (migration 0018).
 */
function sentAlone(row: {
  sent_device_id: string | null;
  sent_provider: string | null;
  platforms: string[];
  attempts: number;
  sent_at: Date | null;
  updated_at: Date;
}): DeliveryView[] {
  if (row.sent_device_id === null) return [];
  return [
    {
      deviceId: row.sent_device_id,
      platform: row.platforms[0] ?? "",
      provider: row.sent_provider ?? "",
      status: "sent",
      reason: null,
      attempts: row.attempts,
      updatedAt: row.sent_at ?? row.updated_at,
    },
  ];
}
