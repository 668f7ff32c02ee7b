import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import type { SegmentEvent } from "../segment-event.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import { feedbackOf } from "../stats/feedback.ts";
import { countUnattributed } from "../stats/feedback.repository.ts";
import {
  recordConversions,
  recordFeedback,
  type AttributedFeedback,
  type Conversion,
} from "../delivery/notification-feedback.repository.ts";

/** Whether `recordEventFeedback` would write anything for these events. */
export function carriesFeedback(
  events: readonly { event: SegmentEvent }[],
  book: RuleBook,
): boolean {
  return events.some(
    ({ event }) =>
      (event.event !== undefined && feedbackOf(event) !== undefined) ||
      (event.type === "track" &&
        event.event !== undefined &&
        book.conversions.has(event.event)),
  );
}

/**
 * Records, inside the ingest transaction, what new events say about notifications:
 * push feedback (received, opened, bounced) on the notification it names, or counted
 * as unattributed; then conversions, so that a tap and the order after it in one
 * batch count together.
 */
export async function recordEventFeedback(
  db: Kysely<DB>,
  events: readonly { event: SegmentEvent; userId: string }[],
  book: RuleBook,
  now: Date,
): Promise<void> {
  const attributed: (AttributedFeedback & { event: string })[] = [];
  const unattributed: { event: string; at: Date }[] = [];
  for (const { event } of events) {
    const feedback = feedbackOf(event);
    if (feedback === undefined || event.event === undefined) continue;
    const at = event.timestamp;
    if (feedback.nudgeId === undefined)
      unattributed.push({ event: event.event, at });
    else
      attributed.push({
        nudgeId: feedback.nudgeId,
        kind: feedback.kind,
        at,
        event: event.event,
        ...(feedback.actionId !== undefined && { actionId: feedback.actionId }),
      });
  }
  const unknown = await recordFeedback(db, attributed, now);
  unattributed.push(...attributed.filter((f) => unknown.has(f.nudgeId)));
  await countUnattributed(db, unattributed);

  const { conversions } = book;
  if (conversions.size === 0) return;
  const converting: Conversion[] = [];
  for (const { event, userId } of events) {
    const rules =
      event.type === "track" && event.event !== undefined
        ? conversions.get(event.event)
        : undefined;
    if (rules === undefined) continue;
    converting.push({
      userId,
      messageId: event.messageId,
      at: event.timestamp,
      rules,
    });
  }
  await recordConversions(db, converting, now);
}
