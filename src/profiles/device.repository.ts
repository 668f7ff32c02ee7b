import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { DB, DeviceStatus, JsonObject, Platform } from "../db/schema.ts";
import { compare } from "./profile.repository.ts";

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

/**
 * Registers devices in bulk. A token belongs to one user, the latest to send it, so an
 * existing token moves to the new user. An explicit status (subscribe/unsubscribe) is
 * applied and revives a disabled token; a token merely seen keeps its status.
 * A Web Push endpoint seen without keys only updates a subscription that exists.
 */
export async function upsertDevices(
  db: Kysely<DB>,
  devices: readonly DeviceUpsert[],
  now: Date,
): Promise<void> {
  const sorted = [...devices].sort(
    (a, b) => compare(a.platform, b.platform) || compare(a.token, b.token),
  );
  const creatable = sorted.filter(
    (d) => d.platform !== "webpush" || d.subscription !== undefined,
  );
  const statusOnly = sorted.filter(
    (d) => d.platform === "webpush" && d.subscription === undefined,
  );

  for (const explicit of [false, true]) {
    const rows = creatable.filter((d) => (d.status !== undefined) === explicit);
    if (rows.length === 0) continue;
    await db
      .insertInto("devices")
      .values(
        rows.map((d) => ({
          user_id: d.userId,
          device_id: randomUUID(),
          platform: d.platform,
          token: d.token,
          subscription: JSON.stringify(d.subscription ?? null),
          status: d.status ?? "active",
          locale: d.locale ?? null,
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) =>
        oc.columns(["platform", "token"]).doUpdateSet({
          user_id: sql`excluded.user_id`,
          locale: sql`coalesce(excluded.locale, devices.locale)`,
          subscription: sql`coalesce(excluded.subscription, devices.subscription)`,
          updated_at: now,
          ...(explicit
            ? {
                status: sql`excluded.status`,
                disabled_reason: null,
                disabled_at: null,
              }
            : {}),
        }),
      )
      .execute();
  }
  for (const d of statusOnly) {
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

export async function findDeviceByToken(
  db: Kysely<DB>,
  platform: Platform,
  token: string,
): Promise<{ userId: string; deviceId: string } | undefined> {
  const row = await db
    .selectFrom("devices")
    .select(["user_id", "device_id"])
    .where("platform", "=", platform)
    .where("token", "=", token)
    .executeTakeFirst();
  return row && { userId: row.user_id, deviceId: row.device_id };
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
