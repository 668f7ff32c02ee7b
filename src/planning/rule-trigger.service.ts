import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { MatchStatus, type DB } from "../db/schema.ts";
import { resolveUserId } from "../profiles/profile.service.ts";
import { matchesCondition, readPath } from "../rules/condition.ts";
import type { Rule } from "../rules/rule-book.ts";
import type { SegmentEvent } from "../segment-event.ts";
import {
  findMatchOfTrigger,
  type MatchRecord,
} from "./match-control.repository.ts";
import { insertMatches } from "./match.repository.ts";

/*
 * Running a rule for an event given through the admin API. A preview and a real
 * trigger take the same first step, `checkTrigger`; the trigger then records the match
 * the preview only shows, and the planner plans it with the same policy the preview
 * applies, so a preview shows what the trigger will do.
 */

/** What an event does to a rule, decided before anything is written. */
export type TriggerCheck = {
  /** The profile the event is about, following a merge. */
  userId: string;
  /** The saved item a collection audience is for; null without one. */
  itemKey: string | null;
  triggered: boolean;
  /** Why the event does not set the rule off, or sets it off to no audience. */
  explanation: string | undefined;
};

export async function checkTrigger(
  db: Kysely<DB>,
  rule: Rule,
  event: SegmentEvent,
): Promise<TriggerCheck> {
  const userId = await resolveUserId(
    db,
    event.userId ?? event.anonymousId ?? "",
  );
  const itemKey = itemKeyOf(rule, event);
  if (
    rule.trigger !== "manual" &&
    !matchesCondition(rule.trigger, event.payload)
  )
    return {
      userId,
      itemKey,
      triggered: false,
      explanation: `The event does not match the rule's trigger: ${rule.trigger.source}`,
    };
  const explanation =
    rule.audience.kind === "collection" && itemKey === null
      ? `The event has no ${rule.audience.key}, so no saved item names an audience.`
      : undefined;
  return { userId, itemKey, triggered: true, explanation };
}

/** The saved item a collection audience is for, read as the ingest reads it. */
function itemKeyOf(rule: Rule, event: SegmentEvent): string | null {
  if (rule.audience.kind !== "collection") return null;
  const key = readPath(event.payload, rule.audience.key);
  return typeof key === "string" || typeof key === "number"
    ? String(key)
    : null;
}

export type TriggerResult =
  /** The match this trigger recorded, or the one a first trigger of the same event did. */
  | { kind: "recorded" | "replayed"; match: MatchRecord }
  | {
      kind: "refused";
      reason: "disabled" | "not_triggered" | "no_audience";
      explanation: string;
    };

/**
 * Records the match an event makes of a rule, as the ingest would, for the planner to
 * expand. Idempotent by the event's messageId: a retry answers the match the first
 * call recorded, whatever it carries, and never makes a second one (the (rule,
 * messageId) key settles two retries racing each other).
 */
export async function triggerRule(
  db: Kysely<DB>,
  rule: Rule,
  event: SegmentEvent,
  now: Date,
): Promise<TriggerResult> {
  const earlier = await findMatchOfTrigger(db, rule.id, event.messageId);
  if (earlier !== undefined) return { kind: "replayed", match: earlier };
  if (!rule.enabled)
    return {
      kind: "refused",
      reason: "disabled",
      explanation: `Rule "${rule.id}" is disabled: enable it to trigger it, or preview it with "dryRun": true.`,
    };
  const check = await checkTrigger(db, rule, event);
  if (!check.triggered || check.explanation !== undefined)
    return {
      kind: "refused",
      reason: check.triggered ? "no_audience" : "not_triggered",
      explanation: check.explanation ?? "",
    };
  const matchId = randomUUID();
  await insertMatches(
    db,
    [
      {
        matchId,
        ruleId: rule.id,
        ruleVersion: rule.version,
        triggerMessageId: event.messageId,
        userId: rule.audience.kind === "user" ? check.userId : null,
        itemKey: check.itemKey,
        event: event.payload,
        status: MatchStatus.pending,
        triggeredAt: now,
      },
    ],
    now,
  );
  const match = await findMatchOfTrigger(db, rule.id, event.messageId);
  if (match === undefined)
    throw new Error(`the match of rule ${rule.id} was not recorded`);
  return { kind: match.matchId === matchId ? "recorded" : "replayed", match };
}
