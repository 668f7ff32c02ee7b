import type { Kysely, RawBuilder } from "kysely";
import type { Database } from "../db/database.ts";
import type { DB, JsonObject } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import { executeTogether } from "../db/bulk-sql.ts";
import {
  listDevices,
  updateDeviceStatuses,
  upsertDevicesSql,
  type Device,
  type DeviceUpsert,
} from "./device.repository.ts";
import {
  listCategoryPreferences,
  upsertCategoryPreferencesSql,
  type CategoryPreference,
} from "./preference.repository.ts";
import {
  emptyProfileChange,
  type DeviceChange,
  type ProfileChange,
} from "./profile-changes.ts";
import {
  findAliases,
  findProfile,
  findStrandedAliases,
  linkAliasesSql,
  setOptOut,
  upsertProfilesSql,
  type AliasLink,
} from "./profile.repository.ts";
import { mergeProfileInto } from "./profile-merge.repository.ts";
import type { UserRows } from "./user-rows.ts";
import {
  listSavedItems,
  writeSavedItemsSql,
  type SavedItemWrite,
} from "./saved-item.repository.ts";

/**
 * Writes of other tables to run in the same statement as the profile writes, saving
 * their round trips: `before` them (new events) or `after` them (rule matches), the
 * order in which they take their locks (see lock-order.ts).
 */
export type Alongside = {
  before?: readonly RawBuilder<unknown>[];
  after?: readonly RawBuilder<unknown>[];
};

/**
 * Writes the folded changes of many profiles, and the aliases to record with them, in
 * one statement with a clause per table (plus the rare opt-out and keyless Web Push
 * updates). Where the same device or item appears more than once, the last mention
 * wins, as it would had the events been applied one by one.
 */
export async function applyProfileChanges(
  db: Kysely<DB>,
  changes: ReadonlyMap<string, ProfileChange>,
  now: Date,
  aliases: readonly AliasLink[] = [],
  { before = [], after = [] }: Alongside = {},
): Promise<void> {
  const devices = new Map<string, DeviceUpsert>();
  const items = new Map<string, SavedItemWrite>();
  const categories: CategoryPreference[] = [];
  const optOuts = new Map<string, boolean>();
  for (const [userId, change] of changes) {
    for (const d of change.devices) {
      devices.set(`${d.platform}\u0000${d.token}`, {
        userId,
        platform: d.platform,
        token: d.token,
        subscription: d.subscription,
        status:
          d.status ?? devices.get(`${d.platform}\u0000${d.token}`)?.status,
        locale: d.locale,
      });
    }
    for (const item of change.savedItems) {
      items.set(`${userId}\u0000${item.collection}\u0000${item.key}`, {
        userId,
        ...item,
      });
    }
    for (const [category, optedIn] of Object.entries(change.categories)) {
      categories.push({ userId, category, optedIn });
    }
    if (change.optOut !== undefined) optOuts.set(userId, change.optOut);
  }
  const profiles = [...changes].map(([userId, change]) => ({
    userId,
    ...change,
  }));
  await executeTogether(db, [
    ...before,
    ...(profiles.length > 0 ? [upsertProfilesSql(profiles, now)] : []),
    ...upsertDevicesSql([...devices.values()], now),
    ...(categories.length > 0
      ? [upsertCategoryPreferencesSql(categories, now)]
      : []),
    ...writeSavedItemsSql([...items.values()], now),
    ...(aliases.length > 0 ? [linkAliasesSql(aliases, now)] : []),
    ...after,
  ]);
  // Both update rows the statement above may write, so they cannot be part of it.
  if (optOuts.size > 0) await setOptOut(db, optOuts, now);
  await updateDeviceStatuses(db, [...devices.values()], now);
}

/**
 * Whether `applyProfileChanges` writes these changes in its one statement alone: no
 * opt-out to set, no Web Push endpoint seen without its keys.
 */
export function fitOneStatement(
  changes: ReadonlyMap<string, ProfileChange>,
): boolean {
  for (const change of changes.values()) {
    if (change.optOut !== undefined) return false;
    for (const d of change.devices)
      if (d.platform === "webpush" && d.subscription === undefined)
        return false;
  }
  return true;
}

/**
 * Moves what was written under any of `ids` after it became an alias into the profile
 * it is an alias of, and returns those merges. Ingest decides which profile an event
 * belongs to, and whether a merge has anything to move, from reads made before it
 * writes: a request writing under an id and another merging that id away can each
 * miss the other's writes, and the first's data would stay under the alias, out of
 * reach. Each of them calls this after it commits, and of two such requests the one
 * that commits last sees what the other wrote, so one of them moves it.
 *
 * A merge made here is itself a write under the profile it merges into, which may be
 * merged away meanwhile (or already be an alias, when an alias was recorded as its
 * target was merged on): the profiles merged into are checked in turn, a few hops at
 * most, as each hop follows a merge that really happened.
 */
export async function mergeStrandedProfiles(
  db: Database,
  ids: readonly string[],
  now: Date,
  userRows: readonly UserRows[],
): Promise<AliasLink[]> {
  const merged: AliasLink[] = [];
  let pending = ids;
  for (let hop = 0; hop < MAX_STRANDED_HOPS && pending.length > 0; hop++) {
    const stranded = await findStrandedAliases(db, pending);
    for (const { from, into } of stranded)
      await inTransaction(db, (trx) =>
        mergeProfileInto(trx, from, into, now, userRows),
      );
    merged.push(...stranded);
    pending = stranded.map((link) => link.into);
  }
  return merged;
}

/** Hops `mergeStrandedProfiles` follows: a guard against an alias cycle, not a limit met. */
const MAX_STRANDED_HOPS = 8;

/**
 * Writes one profile's change under the id it is known by now, and returns the id the
 * change ended under: a merge of that id racing the write moves it on.
 */
async function writeProfileChange(
  db: Database,
  requestedId: string,
  at: { now: Date; userRows: readonly UserRows[] },
  change: ProfileChange,
): Promise<string> {
  const { now, userRows } = at;
  const userId = await resolveUserId(db, requestedId);
  // A transaction of its own, so that a deadlock with an ingest is tried again.
  await inTransaction(db, (trx) =>
    applyProfileChanges(trx, new Map([[userId, change]]), now),
  );
  const moves = await mergeStrandedProfiles(db, [userId], now, userRows);
  return moves.at(-1)?.into ?? userId;
}

/** The id a profile is known by now, following a merge (alias) if there was one. */
export async function resolveUserId(
  db: Kysely<DB>,
  userId: string,
): Promise<string> {
  return (await findAliases(db, [userId])).get(userId) ?? userId;
}

export type UserView = {
  userId: string;
  traits: JsonObject;
  groups: JsonObject;
  timezone: string | null;
  locale: string | null;
  preferences: { optedOut: boolean; categories: Record<string, "in" | "out"> };
  devices: Device[];
  savedItems: Record<
    string,
    { key: string; properties: JsonObject; savedAt: Date }[]
  >;
  createdAt: Date;
  updatedAt: Date;
};

/** The rules file's categories, each with its default. */
export type CategoryDefaults = Readonly<
  Record<string, { default: "in" | "out" }>
>;

/**
 * A profile as the admin API shows it. Category preferences are effective values: the
 * user's explicit choice, else the category's default from the rules file.
 */
export async function getUserView(
  db: Kysely<DB>,
  requestedId: string,
  declared: CategoryDefaults,
): Promise<UserView | undefined> {
  const userId = await resolveUserId(db, requestedId);
  const profile = await findProfile(db, userId);
  if (profile === undefined) return undefined;
  const [devices, chosen, saved] = await Promise.all([
    listDevices(db, userId),
    listCategoryPreferences(db, userId),
    listSavedItems(db, userId),
  ]);
  const categories: Record<string, "in" | "out"> = {};
  for (const [name, category] of Object.entries(declared)) {
    categories[name] = category.default;
  }
  // Only the categories the rules declare: a choice of another name, which Segment
  // can send in messaging_subscriptions groups, is kept for when it is declared.
  for (const [name, optedIn] of chosen)
    if (name in categories) categories[name] = optedIn ? "in" : "out";
  const savedItems: UserView["savedItems"] = {};
  for (const item of saved) {
    (savedItems[item.collection] ??= []).push({
      key: item.key,
      properties: item.properties,
      savedAt: item.savedAt,
    });
  }
  return {
    userId,
    traits: profile.traits,
    groups: profile.groups,
    timezone: profile.timezone,
    locale: profile.locale,
    preferences: { optedOut: profile.optedOut, categories },
    devices,
    savedItems,
    createdAt: profile.createdAt,
    updatedAt: profile.updatedAt,
  };
}

export type PreferencesUpdate = {
  optOut?: boolean | undefined;
  categories?: Record<string, boolean> | undefined;
};

/** Sets a user's preferences, creating the profile if Nudge has not seen the user yet. */
export async function updatePreferences(
  db: Database,
  requestedId: string,
  update: PreferencesUpdate,
  at: { now: Date; userRows: readonly UserRows[] },
): Promise<string> {
  return writeProfileChange(db, requestedId, at, {
    ...emptyProfileChange(),
    optOut: update.optOut,
    categories: update.categories ?? {},
  });
}

/** Registers one device for a user (creating the profile) and returns it as stored. */
export async function registerDevice(
  db: Database,
  requestedId: string,
  device: DeviceChange,
  at: { now: Date; userRows: readonly UserRows[] },
): Promise<{ userId: string; device: Device }> {
  const userId = await writeProfileChange(db, requestedId, at, {
    ...emptyProfileChange(),
    devices: [device],
  });
  const stored = (await listDevices(db, userId)).find(
    (d) => d.platform === device.platform && d.token === device.token,
  );
  if (stored === undefined)
    throw new Error("device vanished after registration");
  return { userId, device: stored };
}
