import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import { inTransaction, sqlState } from "../db/transaction.ts";
import type { Database } from "../db/database.ts";
import type { Logger } from "../logger.ts";
import {
  applyProfileChanges,
  fitOneStatement,
  mergeStrandedProfiles,
} from "../profiles/profile.service.ts";
import { lockProfiles } from "../profiles/lock-order.ts";
import type { UserRows } from "../profiles/user-rows.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import type { RuleStore } from "../rules/rule-store.ts";
import {
  cancelEarlierMatches,
  countPending,
  findRuleMatches,
} from "../planning/match-recorder.ts";
import { insertMatchesSql } from "../planning/match.repository.ts";
import { carriesFeedback, recordEventFeedback } from "./event-feedback.ts";
import {
  applyFreshEvents,
  foldChanges,
  findLinkOnlyMerges,
  idsWritten,
  resolveEventProfiles,
  profilesWritten,
} from "./event-profiles.ts";
import {
  insertEventsSql,
  insertNewEvents,
  isStoredEventConflict,
} from "./event.repository.ts";
import { savedItemKeyProblems, warningsOfEvent } from "./event-changes.ts";
import type { WarningCode } from "./event-warnings.ts";
import {
  rejectedAsTooDeep,
  parseSegmentEvent,
  type EventProblem,
  type ParsedEvent,
} from "./segment-event.schema.ts";
import { type SegmentEvent } from "../segment-event.ts";

export type IngestDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: RuleStore;
  /** Told after a commit that recorded rule matches, so they are planned at once. */
  planner: { poke(): void };
  /** What a merge or an erasure asks each feature to move or delete. */
  userRows: readonly UserRows[];
};

export type RejectedEvent = {
  index: number;
  messageId: string | undefined;
  code: "invalid_event";
  problems: EventProblem[];
};

/** An accepted event of which something was not used (see event-warnings.ts). */
export type EventWarningReport = {
  index: number;
  messageId: string;
  code: WarningCode;
  message: string;
};

export type IngestReport = {
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
  /**
   * Present only when an accepted event has one, so that the common answer is what it
   * always was and a client tests `warnings?.length`.
   */
  warnings?: EventWarningReport[];
};

/** The calls of one HTTP request, with the batch-level defaults of the tracking API. */
export type IngestRequest = {
  inputs: readonly unknown[];
  defaults?: { context?: Record<string, unknown> };
  /** Positions of calls nested too deep to store: rejected unread. */
  tooDeep?: ReadonlySet<number>;
};

/**
 * Ingests the calls of several requests in one transaction, in request order, and
 * reports on each request as if it had been ingested alone right after the ones before
 * it: a messageId that an earlier request of the group carries is its duplicate.
 */
export async function ingestTogether(
  deps: IngestDeps,
  requests: readonly IngestRequest[],
): Promise<IngestReport[]> {
  const receivedAt = deps.clock();
  const book = deps.rules.current();
  const seen = new Set<string>();
  const validated = requests.map((request) =>
    validateCalls(request, book, receivedAt, seen),
  );
  const valid = validated.flatMap(({ events }) => events);
  const fresh =
    valid.length === 0
      ? new Set<string>()
      : await storeEvents(deps, valid, book, receivedAt);
  return validated.map(({ events, duplicates, rejected, warnings }) => {
    const accepted = events.filter((e) => fresh.has(e.messageId)).length;
    // A duplicate changes nothing: what it could not change is not news.
    const worth = warnings.filter((w) => fresh.has(w.messageId));
    const report: IngestReport = {
      accepted,
      duplicates: duplicates + events.length - accepted,
      rejected,
      ...(worth.length > 0 && { warnings: worth }),
    };
    deps.logger.debug(
      { ...report, rejected: rejected.length, warnings: worth.length },
      "events ingested",
    );
    return report;
  });
}

/** Parses one request's calls; a messageId already in `seen` counts as a duplicate. */
function validateCalls(
  { inputs, defaults = {}, tooDeep }: IngestRequest,
  book: RuleBook,
  receivedAt: Date,
  seen: Set<string>,
): {
  events: SegmentEvent[];
  duplicates: number;
  rejected: RejectedEvent[];
  warnings: EventWarningReport[];
} {
  const rejected: RejectedEvent[] = [];
  const warnings: EventWarningReport[] = [];
  const events: SegmentEvent[] = [];
  let duplicates = 0;
  inputs.forEach((input, index) => {
    const parsed = tooDeep?.has(index)
      ? rejectedAsTooDeep(input)
      : storableEvent(parseSegmentEvent(input, receivedAt, defaults), book);
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
      const { messageId } = parsed.event;
      seen.add(messageId);
      events.push(parsed.event);
      for (const warning of warningsOfEvent(parsed.event))
        warnings.push({ index, messageId, ...warning });
    }
  });
  return { events, duplicates, rejected, warnings };
}

/** A valid call, unless a saved item it writes has a key too long to store. */
function storableEvent(parsed: ParsedEvent, book: RuleBook): ParsedEvent {
  if (!parsed.ok) return parsed;
  const problems = savedItemKeyProblems(parsed.event, book);
  return problems.length === 0
    ? parsed
    : { ok: false, messageId: parsed.event.messageId, problems };
}

type Stored = {
  fresh: Set<string>;
  matches: number;
  /** The profiles the events belong to or merge: see `mergeStrandedProfiles`. */
  profiles: string[];
};

/**
 * Stores distinct valid events and their profile changes; returns the new messageIds.
 * After the commit, moves what a concurrent merge left stranded under an alias.
 */
async function storeEvents(
  deps: IngestDeps,
  events: readonly SegmentEvent[],
  book: RuleBook,
  receivedAt: Date,
): Promise<Set<string>> {
  const { fresh, matches, profiles } =
    (await storeInOneStatement(deps, events, book, receivedAt)) ??
    (await inTransaction(deps.db, (trx) =>
      storeStepByStep(trx, events, book, receivedAt, deps),
    ));
  const stranded = await mergeStrandedProfiles(
    deps.db,
    profiles,
    receivedAt,
    deps.userRows,
  );
  if (stranded.length > 0)
    deps.logger.info(
      { merges: stranded },
      "moved what was written under ids while they were being merged away",
    );
  if (matches > 0) deps.planner.poke();
  return fresh;
}

/** SQLSTATEs after which the step-by-step path redoes what one statement could not. */
const STEP_BY_STEP_AFTER = new Set(["40001", "40P01"]);

/**
 * The common case in two or three round trips instead of a transaction of five or
 * more: with aliases read, new events that erase, cancel, opt out or report on nothing,
 * and merge no profile that owns anything (a new user's first call, which only links
 * its anonymousId), are written with everything they imply in one statement, which
 * Postgres commits or rolls back as a whole. It assumes every event is new: a stored
 * one fails the statement on the events' key, and the step-by-step path then sorts
 * out the duplicates. Aliases and the merged ids' data are read outside a transaction,
 * which under READ COMMITTED sees no less than reading them inside one would. Returns
 * undefined, having written nothing, when the batch needs the step-by-step path.
 */
async function storeInOneStatement(
  deps: IngestDeps,
  events: readonly SegmentEvent[],
  book: RuleBook,
  receivedAt: Date,
): Promise<Stored | undefined> {
  const planned = await resolveEventProfiles(deps.db, events);
  if (carriesFeedback(planned, book)) return undefined;
  const plan = findRuleMatches(planned, book, receivedAt, deps.logger);
  if (plan.cancellations.length > 0) return undefined;
  const changes = foldChanges(planned, book);
  if (!fitOneStatement(changes)) return undefined;
  // Last, as it may cost a round trip: the merges of new users' first calls.
  const links = await findLinkOnlyMerges(deps.db, planned);
  if (links === undefined) return undefined;
  const alongside = {
    before: [insertEventsSql(planned, receivedAt)],
    after:
      plan.matches.length > 0
        ? [insertMatchesSql(plan.matches, receivedAt)]
        : [],
  };
  try {
    await applyProfileChanges(deps.db, changes, receivedAt, links, alongside);
  } catch (error) {
    const state = sqlState(error);
    if (isStoredEventConflict(error)) return undefined;
    if (state !== undefined && STEP_BY_STEP_AFTER.has(state)) return undefined;
    throw error;
  }
  const fresh = new Set(events.map((e) => e.messageId));
  return { fresh, matches: countPending(plan), profiles: idsWritten(planned) };
}

/** Any batch, in one transaction: merges, erasures, duplicates, feedback and all. */
async function storeStepByStep(
  trx: Kysely<DB>,
  events: readonly SegmentEvent[],
  book: RuleBook,
  receivedAt: Date,
  deps: Pick<IngestDeps, "logger" | "userRows">,
): Promise<Stored> {
  const planned = await resolveEventProfiles(trx, events);
  const fresh = await insertNewEvents(trx, planned, receivedAt);
  const freshEvents = planned.filter((p) => fresh.has(p.event.messageId));
  // Before any other write, in the one order every writer follows (lock-order.ts).
  await lockProfiles(trx, profilesWritten(freshEvents), receivedAt);
  const last = await applyFreshEvents(trx, freshEvents, book, {
    now: receivedAt,
    userRows: deps.userRows,
  });
  const plan = findRuleMatches(freshEvents, book, receivedAt, deps.logger);
  // After any merge of this batch has moved matches, before this batch's are written.
  await cancelEarlierMatches(trx, plan, receivedAt);
  const { changes, links } = last;
  const matches =
    plan.matches.length > 0 ? [insertMatchesSql(plan.matches, receivedAt)] : [];
  await applyProfileChanges(trx, changes, receivedAt, links, {
    after: matches,
  });
  await recordEventFeedback(trx, freshEvents, book, receivedAt);
  // All of them, not only the fresh: a retry of a batch repeats the check after it.
  return { fresh, matches: countPending(plan), profiles: idsWritten(planned) };
}
