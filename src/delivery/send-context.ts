import type { Kysely } from "kysely";
import { groupBy } from "../group-by.ts";
import { NotificationStatus, type DB } from "../db/schema.ts";
import {
  factsQuery,
  listActiveDevices,
  loadRecipientFacts,
  type DeviceTarget,
} from "./recipient.repository.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import type { ClaimedNotification } from "./claim.repository.ts";
import { listSettledDeliveries } from "./deliveries.repository.ts";
import type { SendContext } from "./send-decision.ts";
import { inFlightElsewhere } from "./handed-pages.repository.ts";
import type { Handoff, InFlight } from "./handoff.ts";
import { withInFlight } from "./in-flight.ts";

/**
 * Loads, set-based for a whole claimed batch, what `decideSend` needs for each
 * notification: the rule in force, the recipient's facts as the policy sees them now,
 * their active devices, and what an earlier attempt already settled.
 */
export async function loadSendContexts(
  db: Kysely<DB>,
  book: RuleBook,
  claimed: readonly ClaimedNotification[],
  now: Date,
  inFlight: InFlightHere,
): Promise<SendContext[]> {
  const userIds = [...new Set(claimed.map((c) => c.userId))];
  const devices = await listActiveDevices(db, userIds);
  const [settled, facts] = await Promise.all([
    listSettledDeliveries(
      db,
      claimed.filter((c) => c.attempt > 1),
    ),
    loadFacts(db, book, claimed, devices, now, inFlight),
  ]);
  const devicesOf = groupBy(devices, (d) => d.userId);
  const rules = new Map(book.rules.map((rule) => [rule.id, rule]));
  return claimed.map((notification) => ({
    rule: rules.get(notification.ruleId),
    settings: book.settings,
    facts:
      facts.get(notification.notificationId) ?? emptyFacts(notification.userId),
    devices: devicesOf.get(notification.userId) ?? [],
    settled: settled.get(notification.notificationId) ?? new Map(),
    now,
  }));
}

/** This process's notifications handed over and not yet written, and whose they are. */
export type InFlightHere = Pick<Handoff, "owner" | "inFlight">;

/**
 * A notification planned this recently has nothing new to count against its caps:
 * whatever was planned for the user since was planned knowing about it. Caps are
 * checked again for the ones that waited (a delay, quiet hours, a retry), when the
 * rules may have changed.
 */
const CAPS_RECHECKED_AFTER_MS = 60_000;

/**
 * The policy's facts per notification, one query set per rule in the batch (and per
 * whether caps are checked again). At send time the caps count what the user was sent
 * and what is in flight to them, in this process or another; `decideBatch` adds what
 * the batch itself sends them.
 */
async function loadFacts(
  db: Kysely<DB>,
  book: RuleBook,
  claimed: readonly ClaimedNotification[],
  devices: readonly DeviceTarget[],
  now: Date,
  inFlight: InFlightHere,
): Promise<Map<string, RecipientFacts>> {
  const groups = new Map<
    string,
    { waited: boolean; group: ClaimedNotification[] }
  >();
  for (const notification of claimed) {
    const waited =
      now.getTime() - notification.createdAt.getTime() >
      CAPS_RECHECKED_AFTER_MS;
    const key = `${notification.ruleId}\0${String(waited)}`;
    const entry = groups.get(key) ?? { waited, group: [] };
    entry.group.push(notification);
    groups.set(key, entry);
  }
  const facts = new Map<string, RecipientFacts>();
  const inFlightOf = await inFlightOfWaited(db, claimed, now, inFlight);
  for (const { waited, group } of groups.values()) {
    const rule = book.rules.find((r) => r.id === group[0]?.ruleId);
    if (rule === undefined) continue;
    const query = factsQuery(rule, book.settings, null, now);
    const counted = {
      ...query,
      ...(waited ? {} : { globalCapSince: undefined, ruleCapSince: undefined }),
      // Dedupe was settled when planning.
      dedupeSince: undefined,
    };
    const loaded = await loadRecipientFacts(
      db,
      group.map((n) => ({ userId: n.userId, item: undefined })),
      { ...counted, counting: [NotificationStatus.sent] },
      // The devices checked are the devices sent to.
      devices,
    );
    const withFlying = waited
      ? withInFlight(loaded, counted, inFlightOf)
      : loaded;
    group.forEach((notification, index) => {
      const found = withFlying[index];
      if (found !== undefined) facts.set(notification.notificationId, found);
    });
  }
  return facts;
}

/**
 * What is in flight to the users of the claimed notifications that waited, here and in
 * other processes (their pages handed over): one query, only when some waited.
 */
async function inFlightOfWaited(
  db: Kysely<DB>,
  claimed: readonly ClaimedNotification[],
  now: Date,
  here: InFlightHere,
): Promise<(userId: string) => readonly InFlight[]> {
  const users = claimed
    .filter(
      (n) => now.getTime() - n.createdAt.getTime() > CAPS_RECHECKED_AFTER_MS,
    )
    .map((n) => n.userId);
  if (users.length === 0) return () => [];
  const elsewhere = await inFlightElsewhere(db, here.owner, users, now, null);
  return (userId) => [
    ...here.inFlight(userId),
    ...(elsewhere.get(userId) ?? []),
  ];
}

function emptyFacts(userId: string): RecipientFacts {
  return {
    userId,
    traits: {},
    locale: null,
    timezone: null,
    optedOut: false,
    devices: [],
    categoryChoice: undefined,
    recentTotal: 0,
    recentForRule: 0,
    duplicate: false,
    item: undefined,
  };
}
