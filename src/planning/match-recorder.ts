import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { MatchStatus, type DB } from "../db/schema.ts";
import type { SegmentEvent } from "../segment-event.ts";
import type { Logger } from "../logger.ts";
import { readPath } from "../rules/condition.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import {
  cancelPendingMatches,
  insertMatches,
  type NewMatch,
} from "./match.repository.ts";
import { cancelPendingNotifications } from "../delivery/outbox.repository.ts";

export type IngestedEvent = { event: SegmentEvent; userId: string };

type Cancellation = { userId: string; ruleIds: string[]; messageId: string };

/** The matches new events make, and the earlier matches they cancel. */
export type RuleMatchPlan = {
  matches: NewMatch[];
  cancellations: Cancellation[];
};

/**
 * Records, inside the ingest transaction, which rules the new events trigger and which
 * delayed messages they cancel. Expansion into notifications happens later, in workers,
 * so a large audience never holds up the request. Returns the count of pending matches.
 */
export async function recordRuleMatches(
  db: Kysely<DB>,
  events: readonly IngestedEvent[],
  book: RuleBook,
  now: Date,
  logger: Logger,
): Promise<number> {
  const plan = findRuleMatches(events, book, now, logger);
  await cancelEarlierMatches(db, plan, now);
  await insertMatches(db, plan.matches, now);
  return countPending(plan);
}

/**
 * Which rules the new events trigger and which they cancel, without writing. Events
 * apply in order: a cancelling event cancels what earlier events (in this batch or
 * before) scheduled for the same user, never what later ones do.
 */
export function findRuleMatches(
  events: readonly IngestedEvent[],
  book: RuleBook,
  now: Date,
  logger: Logger,
): RuleMatchPlan {
  const matches: NewMatch[] = [];
  const cancellations: Cancellation[] = [];
  for (const { event, userId } of events) {
    const cancelled = book.cancellations
      .matching(event.payload)
      .map((rule) => rule.id);
    if (cancelled.length > 0) {
      for (const match of matches) {
        if (match.userId === userId && cancelled.includes(match.ruleId))
          match.status = MatchStatus.cancelled;
      }
      cancellations.push({
        userId,
        ruleIds: cancelled,
        messageId: event.messageId,
      });
    }
    for (const rule of book.triggers.matching(event.payload)) {
      const itemKey =
        rule.audience.kind === "collection"
          ? itemKeyOf(event, rule.audience.key)
          : null;
      if (itemKey === undefined) {
        logger.warn(
          { ruleId: rule.id, messageId: event.messageId },
          "triggering event has no audience key",
        );
        continue;
      }
      matches.push({
        matchId: randomUUID(),
        ruleId: rule.id,
        ruleVersion: rule.version,
        triggerMessageId: event.messageId,
        userId: rule.audience.kind === "user" ? userId : null,
        itemKey,
        event: event.payload,
        status: MatchStatus.pending,
        triggeredAt: now,
      });
    }
  }
  return { matches, cancellations };
}

/**
 * Cancels what earlier batches scheduled and the plan's events cancel: everything of
 * theirs is older. Must run before the plan's own matches are written.
 */
export async function cancelEarlierMatches(
  db: Kysely<DB>,
  { cancellations }: RuleMatchPlan,
  now: Date,
): Promise<void> {
  for (const { userId, ruleIds, messageId } of cancellations) {
    await cancelPendingMatches(db, userId, ruleIds, now);
    await cancelPendingNotifications(
      db,
      { userId, ruleIds },
      `cancelled_by:${messageId}`,
      now,
    );
  }
}

/** How many of the plan's matches wait for the planner. */
export function countPending({ matches }: RuleMatchPlan): number {
  return matches.filter((m) => m.status === MatchStatus.pending).length;
}

/** The saved item an event names, as stored in saved_items.item_key. */
function itemKeyOf(event: SegmentEvent, path: string): string | undefined {
  const value = readPath(event.payload, path);
  return typeof value === "string" || typeof value === "number"
    ? String(value)
    : undefined;
}
