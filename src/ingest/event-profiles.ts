import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";
import {
  foldProfileChange,
  type ProfileChange,
} from "../profiles/profile-changes.ts";
import type { ProfileLocks } from "../profiles/lock-order.ts";
import { applyProfileChanges } from "../profiles/profile.service.ts";
import {
  eraseProfile,
  mergeProfileInto,
} from "../profiles/profile-merge.repository.ts";
import {
  findAliases,
  findIdsWithProfileData,
  type AliasLink,
} from "../profiles/profile.repository.ts";
import type { RuleBook } from "../rules/rule-book.ts";
import { changesOfEvent } from "./event-changes.ts";
import type { UserRows } from "../profiles/user-rows.ts";
import type { SegmentEvent } from "../segment-event.ts";

/*
 * How a batch of events maps onto profiles: which profile each event belongs to, the
 * merges and erasures between them, and each profile's changes folded together.
 */

/** Work that must happen between two runs of folded profile writes, in event order. */
export type Barrier =
  | { kind: "merge"; from: string; into: string }
  | { kind: "erase"; userId: string; messageId: string };

export type ResolvedEvent = {
  event: SegmentEvent;
  userId: string;
  barrier: Barrier | undefined;
};

/** Each profile's changes from events without barriers, folded in event order. */
export function foldChanges(
  events: readonly ResolvedEvent[],
  book: RuleBook,
): Map<string, ProfileChange> {
  const changes = new Map<string, ProfileChange>();
  for (const { event, userId } of events) {
    const change = changesOfEvent(event, book);
    const earlier = changes.get(userId);
    changes.set(
      userId,
      earlier === undefined ? change : foldProfileChange(earlier, change),
    );
  }
  return changes;
}

/**
 * Resolves every event to the profile it belongs to, following earlier merges and the
 * merges this batch itself makes. An anonymous profile is merged into a known one on
 * `alias`, and on any call carrying both ids whose anonymousId was never linked to a
 * user; an anonymousId already linked to another user is never used to merge two known
 * users (a shared device must not fuse two people).
 */
export async function resolveEventProfiles(
  db: Kysely<DB>,
  events: readonly SegmentEvent[],
): Promise<ResolvedEvent[]> {
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

/** The ids these events write under, merge from or merge into. */
export function idsWritten(events: readonly ResolvedEvent[]): string[] {
  return events.flatMap(({ userId, barrier }) =>
    barrier?.kind === "merge" ? [userId, barrier.from, barrier.into] : [userId],
  );
}

/**
 * The profiles these events write, as `lockProfiles` takes them: the ids events write
 * under may be created, the ids merged away or erased only locked if they exist (an
 * alias-only merge must leave no profile behind under its id).
 */
export function profilesWritten(
  events: readonly ResolvedEvent[],
): ProfileLocks {
  const create: string[] = [];
  const existing: string[] = [];
  for (const { userId, barrier } of events) {
    if (barrier?.kind === "erase") existing.push(userId);
    else create.push(userId);
    if (barrier?.kind === "merge") existing.push(barrier.from);
  }
  return { create, existing };
}

/**
 * The alias links that are all the barriers of these events amount to, when each one
 * merges an id that owns nothing (the first call of a new user that carries both ids),
 * as `applyFreshEvents` would find: such events can be written in one statement with
 * their links. Undefined when a barrier needs writes of its own: an erasure, or a
 * merge with profile data to move.
 */
export async function findLinkOnlyMerges(
  db: Kysely<DB>,
  events: readonly ResolvedEvent[],
): Promise<AliasLink[] | undefined> {
  const links: AliasLink[] = [];
  // Ids that events before the barrier write to: merging one moves what they wrote.
  const touched = new Set<string>();
  for (const { userId, barrier } of events) {
    if (barrier?.kind === "erase") return undefined;
    if (barrier?.kind === "merge") {
      if (touched.has(barrier.from)) return undefined;
      links.push({ from: barrier.from, into: barrier.into });
      touched.add(barrier.from).add(barrier.into);
    }
    touched.add(userId);
  }
  if (links.length === 0) return links;
  const owners = await findIdsWithProfileData(
    db,
    links.map((link) => link.from),
  );
  return links.some((link) => owners.has(link.from)) ? undefined : links;
}

/** Folded profile changes and alias links not written yet. */
export type PendingProfileWrites = {
  changes: Map<string, ProfileChange>;
  links: AliasLink[];
};

/**
 * Applies the events in order, folding the runs between barriers into one write per
 * table. Merging an id that owns nothing, as on the first call of every new user that
 * carries both an anonymousId and a userId, only records an alias: such merges are
 * written together at the next flush instead of each being a barrier, which keeps a
 * batch of new users to a handful of statements. The run after the last barrier is
 * returned unwritten, for the caller to write together with its own statements.
 */
export async function applyFreshEvents(
  db: Kysely<DB>,
  events: readonly ResolvedEvent[],
  book: RuleBook,
  at: { now: Date; userRows: readonly UserRows[] },
): Promise<PendingProfileWrites> {
  const { now, userRows } = at;
  const owners = await findIdsWithProfileData(
    db,
    events.flatMap(({ barrier }) =>
      barrier?.kind === "merge" ? [barrier.from] : [],
    ),
  );
  // Ids this batch has written or will write: `owners` was read before any of it.
  const touched = new Set<string>();
  let pending = new Map<string, ProfileChange>();
  let links: AliasLink[] = [];
  const flush = async () => {
    if (pending.size > 0 || links.length > 0)
      await applyProfileChanges(db, pending, now, links);
    pending = new Map();
    links = [];
  };
  for (const { event, userId, barrier } of events) {
    if (barrier?.kind === "merge") {
      const { from, into } = barrier;
      if (owners.has(from) || touched.has(from)) {
        await flush();
        await mergeProfileInto(db, from, into, now, userRows);
      } else {
        links.push({ from, into });
      }
      touched.add(from).add(into);
    } else if (barrier?.kind === "erase") {
      await flush();
      await eraseProfile(db, barrier.userId, userRows, barrier.messageId);
      touched.add(barrier.userId);
      continue;
    }
    touched.add(userId);
    const change = changesOfEvent(event, book);
    const earlier = pending.get(userId);
    pending.set(
      userId,
      earlier === undefined ? change : foldProfileChange(earlier, change),
    );
  }
  return { changes: pending, links };
}
