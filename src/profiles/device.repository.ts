import { randomUUID } from "node:crypto";
import { sql, type Kysely, type RawBuilder } from "kysely";
import { jsonRows } from "../db/bulk-sql.ts";
import {
  DeviceStatus,
  type DB,
  type JsonObject,
  type Platform,
} from "../db/schema.ts";
import { compare } from "./lock-order.ts";

export type DeviceUpsert = {
  userId: string;
  platform: Platform;
  token: string;
  subscription: JsonObject | undefined;
  /** Undefined: keep the current status (active for a new device). */
  status: DeviceStatus | undefined;
  locale: string | undefined;
};

export type Device = {
  deviceId: string;
  platform: Platform;
  token: string;
  subscription: JsonObject | null;
  status: DeviceStatus;
  locale: string | null;
  disabledReason: string | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

const DEVICE_COLUMNS = {
  user_id: "text",
  device_id: "text",
  platform: "text",
  token: "text",
  // JSON text, so that "no subscription" is stored as before: the jsonb value null.
  subscription: "text",
  status: "text",
  locale: "text",
};

/**
 * Registers devices in bulk. A token belongs to one user, the latest to send it, so an
 * existing token moves to the new user. An explicit status (subscribe/unsubscribe) is
 * applied and revives a disabled token; a token merely seen keeps its status.
 * Returns the statements for devices that can be created; a Web Push endpoint seen
 * without keys only updates a subscription that exists, see `updateDeviceStatuses`.
 */
export function upsertDevicesSql(
  devices: readonly DeviceUpsert[],
  now: Date,
): RawBuilder<unknown>[] {
  const sorted = [...devices].sort(
    (a, b) => compare(a.platform, b.platform) || compare(a.token, b.token),
  );
  const creatable = sorted.filter(
    (d) => d.platform !== "webpush" || d.subscription !== undefined,
  );
  return [false, true].flatMap((explicit) => {
    const rows = creatable.filter((d) => (d.status !== undefined) === explicit);
    return rows.length === 0 ? [] : [insertDevicesSql(rows, explicit, now)];
  });
}

function insertDevicesSql(
  rows: readonly DeviceUpsert[],
  explicit: boolean,
  now: Date,
): RawBuilder<unknown> {
  const records = rows.map((d) => ({
    user_id: d.userId,
    device_id: randomUUID(),
    platform: d.platform,
    token: d.token,
    subscription: JSON.stringify(d.subscription ?? null),
    status: d.status ?? "active",
    locale: d.locale ?? null,
  }));
  const setStatus = explicit
    ? sql`, status = excluded.status, disabled_reason = null, disabled_at = null`
    : sql``;
  const statusChanges = explicit
    ? sql`or devices.status <> excluded.status or devices.disabled_at is not null`
    : sql``;
  return sql`
    insert into devices (user_id, device_id, platform, token, subscription, status, locale, created_at, updated_at)
    select user_id, device_id, platform, token, subscription::jsonb, status, locale, ${now}::timestamptz, ${now}::timestamptz
    from ${jsonRows(records, DEVICE_COLUMNS)}
    order by ord
    on conflict (platform, token) do update set
      user_id = excluded.user_id,
      locale = coalesce(excluded.locale, devices.locale),
      subscription = coalesce(excluded.subscription, devices.subscription),
      updated_at = excluded.updated_at${setStatus}
    -- A device the call leaves as it was is not rewritten: updated_at is its last change.
    where devices.user_id <> excluded.user_id
      or devices.locale is distinct from coalesce(excluded.locale, devices.locale)
      or devices.subscription is distinct from coalesce(excluded.subscription, devices.subscription)
      ${statusChanges}`;
}

/** Web Push endpoints seen without keys: their stated status, for subscriptions that exist. */
export async function updateDeviceStatuses(
  db: Kysely<DB>,
  devices: readonly DeviceUpsert[],
  now: Date,
): Promise<void> {
  const sorted = [...devices].sort(
    (a, b) => compare(a.platform, b.platform) || compare(a.token, b.token),
  );
  for (const d of sorted) {
    if (d.platform !== "webpush" || d.subscription !== undefined) continue;
    if (d.status === undefined) continue;
    await db
      .updateTable("devices")
      .set({ user_id: d.userId, status: d.status, updated_at: now })
      .where("platform", "=", d.platform)
      .where("token", "=", d.token)
      .execute();
  }
}

export async function listDevices(
  db: Kysely<DB>,
  userId: string,
): Promise<Device[]> {
  const rows = await db
    .selectFrom("devices")
    .selectAll()
    .where("user_id", "=", userId)
    .orderBy("created_at")
    .orderBy("device_id")
    .execute();
  return rows.map((row) => ({
    deviceId: row.device_id,
    platform: row.platform,
    token: row.token,
    subscription: row.subscription,
    status: row.status,
    locale: row.locale,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }));
}

/** Removes one device of a user; false when the user has no such device. */
export async function deleteDevice(
  db: Kysely<DB>,
  userId: string,
  deviceId: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom("devices")
    .where("user_id", "=", userId)
    .where("device_id", "=", deviceId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** A device whose token a provider refused, to disable and audit (delivery reports it). */
export type DeviceDisabling = {
  userId: string;
  deviceId: string;
  platform: Platform;
  token: string;
  provider: string;
  reason: string;
  notificationId: string;
};

/** Disables each device only while it still holds the token that was refused. */
export function disableDevices(
  disablings: readonly DeviceDisabling[],
  now: Date,
) {
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

export function auditDisablings(
  disablings: readonly DeviceDisabling[],
  now: Date,
) {
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

/** Deletes the audit of the devices disabled before `cutoff`; returns how many. */
export async function deleteDisablingsBefore(
  db: Kysely<DB>,
  cutoff: Date,
): Promise<number> {
  const result = await db
    .deleteFrom("device_disablings")
    .where("disabled_at", "<", cutoff)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
