import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import {
  factsQuery,
  loadRecipientFacts,
} from "../planning/recipient.repository.ts";
import type { RecipientFacts } from "../rules/policy.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import {
  listActiveDevices,
  listSettledDeliveries,
  type ClaimedNotification,
  type DeviceTarget,
} from "./outbox.repository.ts";
import type { SendContext } from "./send-plan.ts";

/**
 * Loads, set-based for a whole claimed batch, what `planSend` needs for each
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
  const [devices, settled, facts] = await Promise.all([
    listActiveDevices(db, userIds),
    listSettledDeliveries(
      db,
      claimed.filter((c) => c.attempt > 1),
    ),
    loadFacts(db, book, claimed, now),
  ]);
  const devicesOf = new Map<string, DeviceTarget[]>();
  for (const device of devices) {
    const list = devicesOf.get(device.userId) ?? [];
    list.push(device);
    devicesOf.set(device.userId, list);
  }
  const rules = new Map(book.rules.map((rule) => [rule.id, rule]));
  return claimed.map((notification) => {
    const targets = devicesOf.get(notification.userId) ?? [];
    const known = facts.get(notification.notificationId);
    return {
      rule: rules.get(notification.ruleId),
      settings: book.settings,
      // The devices checked are the devices sent to.
      facts: {
        ...(known ?? emptyFacts(notification.userId)),
        devices: targets.map((d) => ({
          platform: d.platform,
          locale: d.locale,
        })),
      },
      devices: targets,
      settled: settled.get(notification.notificationId) ?? new Map(),
      now,
    };
  });
}

/**
 * The policy's facts per notification, one query set per rule in the batch. The batch
 * itself is not counted against the caps: each of its notifications was counted when
 * it was planned.
 */
async function loadFacts(
  db: Kysely<DB>,
  book: RuleBook,
  claimed: readonly ClaimedNotification[],
  now: Date,
): Promise<Map<string, RecipientFacts>> {
  const byRule = new Map<string, ClaimedNotification[]>();
  for (const notification of claimed) {
    const group = byRule.get(notification.ruleId) ?? [];
    group.push(notification);
    byRule.set(notification.ruleId, group);
  }
  const facts = new Map<string, RecipientFacts>();
  for (const [ruleId, group] of byRule) {
    const rule = book.rules.find((r) => r.id === ruleId);
    if (rule === undefined) continue;
    const loaded = await loadRecipientFacts(
      db,
      group.map((n) => ({ userId: n.userId, item: undefined })),
      {
        // Dedupe was settled when planning; caps are checked again.
        ...factsQuery(rule, book.settings, null, now),
        dedupeSince: undefined,
        excluding: group.map((n) => n.notificationId),
      },
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
