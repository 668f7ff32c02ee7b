import { sql, type Kysely } from "kysely";
import { isoTime, jsonRows } from "../db/bulk-sql.ts";
import { PREPARE } from "../db/prepared-statements.ts";
import { groupBy } from "../group-by.ts";
import { DeliveryStatus, NotificationStatus, type DB } from "../db/schema.ts";
import {
  auditDisablings,
  disableDevices,
  type DeviceDisabling,
} from "../profiles/device.repository.ts";
import {
  upsertDeliveries,
  type DeliveryRecord,
} from "./deliveries.repository.ts";
import {
  joinedReasons,
  NOTIFICATION_COLUMNS,
  plannedRecord,
  type UnwrittenNotification,
} from "./outbox.repository.ts";

/*
 * What came of a delivery attempt, written in one statement per batch of outcomes:
 * the notifications settled (or inserted, when planning handed them over unwritten),
 * each device's delivery, and the devices whose token a provider refused.
 */

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
  /**
   * A notification handed from planning straight to delivery has no row yet: this is
   * the row as planned, written once with its outcome on top.
   */
  firstWrite?: UnwrittenNotification | undefined;
  /** Why it waits, for a first write deferred at send time. */
  deferredBy?: readonly string[] | undefined;
};

export type { DeliveryRecord, DeviceDisabling };

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
 *
 * A notification handed over by planning is inserted instead, with its outcome, under
 * the user its profile is now (`insertFirstWrites`); its deliveries are recorded only
 * when it was, and one sent to its only device is recorded on it (`sentAloneOf`).
 *
 * The statement is prepared: its rows come as `jsonRows` documents, and its text is
 * one of the few that its clauses make. A fan-out runs it every few hundred sends.
 */
export async function recordOutcomes(
  db: Kysely<DB>,
  outcomes: Outcomes,
  now: Date,
): Promise<void> {
  const { notifications, deliveries, disablings } = outcomes;
  if (notifications.length + deliveries.length + disablings.length === 0)
    return;
  const tried = triedByNotification(deliveries);
  const claimed = notifications.filter((n) => n.firstWrite === undefined);
  const firstWrites = notifications.filter((n) => n.firstWrite !== undefined);
  const sentAlone = sentAloneOf(firstWrites, deliveries);
  const rows = deliveries.filter((d) => !sentAlone.has(d.notificationId));
  const clauses = [];
  const recorded = [];
  // A clause without rows is left out, or PostgreSQL would plan and start it all the
  // same: a fan-out's batches are all first writes.
  if (claimed.length > 0) {
    clauses.push(
      sql`settled as (${updateNotifications(claimed, tried, now)}
        returning n.user_id, n.notification_id)`,
    );
    recorded.push(sql`select user_id, notification_id from settled`);
  }
  if (firstWrites.length > 0) {
    clauses.push(
      sql`written as (${insertFirstWrites(firstWrites, tried, sentAlone, now)}
        returning user_id, notification_id)`,
    );
    recorded.push(sql`select user_id, notification_id from written`);
  }
  // Deliveries come with their notifications' outcomes: `recorded` is not empty.
  if (rows.length > 0) {
    clauses.push(
      // One lookup object, not a join: the planner, guessing the settled rows
      // few, would compare every delivery with every one of them.
      sql`moved as (select jsonb_object_agg(notification_id, user_id) as users
        from (${sql.join(recorded, sql` union all `)}) as recorded)`,
      sql`delivered as (${upsertDeliveries(
        rows,
        new Set(firstWrites.map((u) => u.notificationId)),
        now,
      )})`,
    );
  }
  if (disablings.length > 0) {
    clauses.push(
      sql`disabled as (${disableDevices(disablings, now)})`,
      sql`audited as (${auditDisablings(disablings, now)})`,
    );
  }
  await sql`${PREPARE}with ${sql.join(clauses)} select 1`.execute(db);
}

/**
 * The first writes whose one delivery is a send their first attempt made: all there is
 * to say of it fits on the notification (`sent_device_id`, migration 0018), so it gets
 * no `deliveries` row. A notification written before (claimed) may have deliveries
 * from earlier attempts, and one sent to several devices or not sent has a row per
 * device, which is where its history is told.
 */
function sentAloneOf(
  firstWrites: readonly NotificationUpdate[],
  deliveries: readonly DeliveryRecord[],
): Map<string, DeliveryRecord> {
  const sentNow = new Set(
    firstWrites
      .filter((u) => u.status === NotificationStatus.sent)
      .map((u) => u.notificationId),
  );
  const sentAlone = new Map<string, DeliveryRecord>();
  const ofSentNow = deliveries.filter((d) => sentNow.has(d.notificationId));
  for (const [id, [only, ...more]] of groupBy(
    ofSentNow,
    (d) => d.notificationId,
  ))
    if (
      more.length === 0 &&
      only?.status === DeliveryStatus.sent &&
      only.attempts === 1
    )
      sentAlone.set(id, only);
  return sentAlone;
}

/** Per notification, the platforms its deliveries went to and whether one met a dead token. */
type Tried = Map<string, { platforms: string[]; invalid: boolean }>;

function triedByNotification(deliveries: readonly DeliveryRecord[]): Tried {
  const tried: Tried = new Map();
  for (const d of deliveries) {
    const seen = tried.get(d.notificationId) ?? {
      platforms: [],
      invalid: false,
    };
    if (!seen.platforms.includes(d.platform)) seen.platforms.push(d.platform);
    seen.invalid ||= d.status === DeliveryStatus.invalidToken;
    tried.set(d.notificationId, seen);
  }
  return tried;
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
  tried: Tried,
  now: Date,
) {
  const rows = updates.map((u) => {
    const seen = tried.get(u.notificationId);
    return {
      user_id: u.userId,
      notification_id: u.notificationId,
      claimed_until: isoTime(u.claimedUntil),
      status: u.status,
      reason: u.reason,
      send_at: isoTime(u.sendAt),
      sent_at: isoTime(u.sentAt),
      released: u.releasedAttempt,
      platforms: seen?.platforms ?? [],
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

const FIRST_WRITE_COLUMNS = {
  ...NOTIFICATION_COLUMNS,
  attempts: "integer",
  sent_at: "timestamptz",
  platforms: "text[]",
  invalid_token: "boolean",
  sent_device_id: "text",
  sent_provider: "text",
  sent_provider_message_id: "text",
  created_at: "timestamptz",
};

/**
 * Inserts handed-over notifications with their outcome, as the `written` clause of
 * recordOutcomes' statement. Each goes to the user its profile is now: a merge while it
 * was in flight made its user an alias, and a user erased meanwhile gets no row at all.
 * One already written for the same match and user (by a process that took the match
 * over after this one's lease lapsed) is kept.
 */
function insertFirstWrites(
  updates: readonly NotificationUpdate[],
  tried: Tried,
  sentAlone: ReadonlyMap<string, DeliveryRecord>,
  now: Date,
) {
  const rows = updates.map((u) => {
    const planned = u.firstWrite as UnwrittenNotification;
    const seen = tried.get(u.notificationId);
    const sent = sentAlone.get(u.notificationId);
    return {
      ...plannedRecord(planned),
      status: u.status,
      reason: u.reason ?? planned.reason ?? null,
      deferred_by: joinedReasons([
        ...planned.deferredBy,
        ...(u.deferredBy ?? []),
      ]),
      send_at: isoTime(u.sendAt ?? planned.sendAt),
      attempts: u.releasedAttempt ? 0 : 1,
      sent_at: isoTime(u.sentAt),
      platforms: seen === undefined ? [] : [...seen.platforms].sort(),
      invalid_token: seen?.invalid ?? false,
      sent_device_id: sent?.deviceId ?? null,
      sent_provider: sent?.provider ?? null,
      sent_provider_message_id: sent?.providerMessageId ?? null,
      created_at: isoTime(planned.plannedAt),
    };
  });
  return sql`
    insert into notifications (user_id, notification_id, match_id, rule_id, rule_version,
      item_key, variant, timing, category, status, reason, deferred_by, send_at,
      expires_at, content, attempts, sent_at, platforms, invalid_token, sent_device_id,
      sent_provider, sent_provider_message_id, created_at, updated_at)
    select p.user_id, r.notification_id, r.match_id, r.rule_id, r.rule_version,
      r.item_key, r.variant, r.timing, r.category, r.status, r.reason, r.deferred_by,
      r.send_at, r.expires_at, r.content, r.attempts, r.sent_at, r.platforms,
      r.invalid_token, r.sent_device_id, r.sent_provider, r.sent_provider_message_id,
      r.created_at, ${now}::timestamptz
    from ${jsonRows(rows, FIRST_WRITE_COLUMNS)}
    left join profile_aliases a on a.alias_id = r.user_id
    join profiles p on p.user_id = coalesce(a.user_id, r.user_id)
    order by r.ord
    on conflict do nothing`;
}
