import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import type { Database } from "../db/database.ts";
import type { Logger } from "../logger.ts";
import { applyProfileChanges } from "../profiles/profile.service.ts";
import {
  foldProfileChange,
  type ProfileChange,
} from "../profiles/profile-changes.ts";
import {
  eraseProfile,
  findAliases,
  mergeProfileInto,
} from "../profiles/profile.repository.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import type { RuleStore } from "../rules/rule-store.ts";
import { changesOfEvent } from "./event-changes.ts";
import { insertNewEvents } from "./event.repository.ts";
import {
  parseSegmentEvent,
  type EventProblem,
  type SegmentEvent,
} from "./segment-event.schema.ts";

export type IngestDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: RuleStore;
};

export type RejectedEvent = {
  index: number;
  messageId: string | undefined;
  code: "invalid_event";
  problems: EventProblem[];
};

export type IngestReport = {
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
};

/** Work that must happen between two runs of folded profile writes, in event order. */
type Barrier =
  | { kind: "merge"; from: string; into: string }
  | { kind: "erase"; userId: string; messageId: string };

type PlannedEvent = {
  event: SegmentEvent;
  userId: string;
  barrier: Barrier | undefined;
};

/**
 * Ingests a batch of Segment calls in one transaction: invalid calls are reported and
 * skipped, duplicates acknowledged and skipped, and the rest stored together with
 * everything they say about profiles, devices, preferences and saved items.
 */
export async function ingestEvents(
  deps: IngestDeps,
  inputs: readonly unknown[],
  defaults: { context?: Record<string, unknown> } = {},
): Promise<IngestReport> {
  const receivedAt = deps.clock();
  const rejected: RejectedEvent[] = [];
  const valid: SegmentEvent[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  inputs.forEach((input, index) => {
    const parsed = parseSegmentEvent(input, receivedAt, defaults);
    if (!parsed.ok) {
      rejected.push({
        index,
        messageId: parsed.messageId,
        code: "invalid_event",
        problems: parsed.problems,
      });
    } else if (seen.has(parsed.event.messageId)) {
      duplicates++;
    } else {
      seen.add(parsed.event.messageId);
      valid.push(parsed.event);
    }
  });
  if (valid.length === 0) return { accepted: 0, duplicates, rejected };

  const book = deps.rules.current();
  const accepted = await inTransaction(deps.db, async (trx) => {
    const planned = await planEvents(trx, valid);
    const fresh = await insertNewEvents(trx, planned, receivedAt);
    await applyFreshEvents(
      trx,
      planned.filter((p) => fresh.has(p.event.messageId)),
      book,
      receivedAt,
    );
    return fresh.size;
  });
  duplicates += valid.length - accepted;
  deps.logger.debug(
    { accepted, duplicates, rejected: rejected.length },
    "events ingested",
  );
  return { accepted, duplicates, rejected };
}

/**
 * Resolves every event to the profile it belongs to, following earlier merges and the
 * merges this batch itself makes. An anonymous profile is merged into a known one on
 * `alias`, and on any call carrying both ids whose anonymousId was never linked to a
 * user; an anonymousId already linked to another user is never used to merge two known
 * users (a shared device must not fuse two people).
 */
async function planEvents(
  db: Kysely<DB>,
  events: readonly SegmentEvent[],
): Promise<PlannedEvent[]> {
  const ids = events
    .flatMap((e) => [e.userId, e.anonymousId, e.previousId])
    .filter((id) => id !== undefined);
  const aliases = await findAliases(db, ids);
  const resolve = (id: string) => aliases.get(id) ?? id;
  const link = (from: string, into: string) => {
    for (const [alias, target] of aliases)
      if (target === from) aliases.set(alias, into);
    aliases.set(from, into);
  };

  return events.map((event) => {
    let barrier: Barrier | undefined;
    const known =
      event.userId === undefined ? undefined : resolve(event.userId);
    const other = event.type === "alias" ? event.previousId : event.anonymousId;
    if (known !== undefined && other !== undefined) {
      const from = resolve(other);
      const linkedElsewhere = event.type !== "alias" && aliases.has(other);
      if (from !== known && !linkedElsewhere) {
        barrier = { kind: "merge", from, into: known };
        link(from, known);
      }
    }
    const userId = known ?? resolve(event.anonymousId ?? "");
    if (event.type === "delete") {
      barrier = { kind: "erase", userId, messageId: event.messageId };
      for (const [alias, target] of aliases)
        if (target === userId) aliases.delete(alias);
    }
    return { event, userId, barrier };
  });
}

/** Applies the events in order, folding the runs between barriers into one write per table. */
async function applyFreshEvents(
  db: Kysely<DB>,
  events: readonly PlannedEvent[],
  book: RuleBook,
  now: Date,
): Promise<void> {
  let pending = new Map<string, ProfileChange>();
  const flush = async () => {
    if (pending.size > 0) await applyProfileChanges(db, pending, now);
    pending = new Map();
  };
  for (const { event, userId, barrier } of events) {
    if (barrier !== undefined) {
      await flush();
      if (barrier.kind === "merge")
        await mergeProfileInto(db, barrier.from, barrier.into, now);
      else await eraseProfile(db, barrier.userId, barrier.messageId);
      if (barrier.kind === "erase") continue;
    }
    const change = changesOfEvent(event, book);
    const earlier = pending.get(userId);
    pending.set(
      userId,
      earlier === undefined ? change : foldProfileChange(earlier, change),
    );
  }
  await flush();
}
