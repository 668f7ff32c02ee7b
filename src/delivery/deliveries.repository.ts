import { sql, type Kysely } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import { DeliveryStatus, type DB, type Platform } from "../db/schema.ts";

/*
 * Deliveries: what became of a notification on each of its user's devices, attempt
 * after attempt. Written beside the notifications' outcomes (outcome.repository.ts).
 */

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

/**
 * Records deliveries beside the `settled` and `written` notifications of the same
 * statement, under their user (under the claimed one when the claim had lapsed and
 * nothing was settled; not at all for a first write that was not inserted).
 */
export function upsertDeliveries(
  records: readonly DeliveryRecord[],
  unwritten: ReadonlySet<string>,
  now: Date,
) {
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
    first_write: unwritten.has(d.notificationId),
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
      first_write: "boolean",
    })}
    where not r.first_write or (select users from moved) ? r.notification_id
    order by ord
    on conflict (user_id, notification_id, device_id) do update
    set status = excluded.status, reason = excluded.reason,
      provider = excluded.provider, provider_message_id = excluded.provider_message_id,
      attempts = excluded.attempts, updated_at = excluded.updated_at`;
}

/** Moves `from`'s deliveries after their notifications, which `moveNotifications` moved. */
export async function moveDeliveries(
  db: Kysely<DB>,
  from: string,
  into: string,
): Promise<void> {
  await sql`
    update deliveries d set user_id = ${into}
    where d.user_id = ${from}
      and exists (select from notifications n where n.user_id = ${into} and n.notification_id = d.notification_id)`.execute(
    db,
  );
  await db.deleteFrom("deliveries").where("user_id", "=", from).execute();
}

export async function eraseDeliveries(
  db: Kysely<DB>,
  userId: string,
): Promise<void> {
  await db.deleteFrom("deliveries").where("user_id", "=", userId).execute();
}
