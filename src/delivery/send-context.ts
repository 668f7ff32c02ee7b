import type { Kysely } from "kysely";
import { NotificationStatus, type DB } from "../db/schema.ts";
import {
  factsQuery,
  groupBy,
  listActiveDevices,
  loadRecipientFacts,
  type DeviceTarget,
} from "./recipient.repository.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import type { ClaimedNotification } from "./claim.repository.ts";
import { listSettledDeliveries } from "./deliveries.repository.ts";
import type { SendContext } from "./send-decision.ts";

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
): Promise<SendContext[]> {
  const userIds = [...new Set(claimed.map((c) => c.userId))];
  const devices = await listActiveDevices(db, userIds);
  const [settled, facts] = await Promise.all([
    listSettledDeliveries(
      db,
      claimed.filter((c) => c.attempt > 1),
    ),
    loadFacts(db, book, claimed, devices, now),
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

/**
 * A notification planned this recently has nothing new to count against its caps:
 * whatever was planned for the user since was planned knowing about it. Caps are
 * checked again for the ones that waited (a delay, quiet hours, a retry), when the
 * rules may have changed.
 */
const CAPS_RECHECKED_AFTER_MS = 60_000;

/**
 * The policy's facts per notification, one query set per rule in the batch (and per
 * whether caps are checked again). At send time the caps count what the user was sent;
 * `decideBatch` adds what the batch itself sends them.
 */
async function loadFacts(
  db: Kysely<DB>,
  book: RuleBook,
  claimed: readonly ClaimedNotification[],
  devices: readonly DeviceTarget[],
  now: Date,
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
  for (const { waited, group } of groups.values()) {
    const rule = book.rules.find((r) => r.id === group[0]?.ruleId);
    if (rule === undefined) continue;
    const query = factsQuery(rule, book.settings, null, now);
    const loaded = await loadRecipientFacts(
      db,
      group.map((n) => ({ userId: n.userId, item: undefined })),
      {
        ...query,
        ...(waited
          ? {}
          : { globalCapSince: undefined, ruleCapSince: undefined }),
        // Dedupe was settled when planning.
        dedupeSince: undefined,
        counting: [NotificationStatus.sent],
      },
      // The devices checked are the devices sent to.
      devices,
    );
    group.forEach((notification, index) => {
      const found = loaded[index];
      if (found !== undefined) facts.set(notification.notificationId, found);
    });
  }
  return facts;
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
