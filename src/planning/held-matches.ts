import type { Database } from "../db/database.ts";
import { forgetHandedPage } from "../delivery/handed-pages.repository.ts";
import type { Handoff, HandedNotification } from "../delivery/handoff.ts";
import type { Logger } from "../logger.ts";
import {
  advanceMatch,
  releaseMatch,
  type MatchProgress,
} from "./match.repository.ts";

/** A fan-out page planned and committed, whose due-now notifications go to delivery. */
export type HeldPage = {
  matchId: string;
  /** The lease's token: progress is written only while the lease is this process's. */
  token: string;
  /** Taken over from a process that died: recipients past the cursor may be written. */
  resumed: boolean;
  /** Where the match stands once this page is written. */
  progress: MatchProgress;
  handed: HandedNotification[];
  /** The page as recorded for planners elsewhere, forgotten once it is written. */
  reservation: string | undefined;
};

/** A fan-out held by this process: planned ahead of what is written. */
export type HeldMatch = {
  matchId: string;
  token: string;
  resumed: boolean;
  /** Where its next page starts, and how many were planned before it. */
  next: MatchProgress;
  /** Pages planned whose progress is not yet written. */
  outstanding: number;
};

export type HeldMatches = {
  /** The held fan-out whose next page is to be planned, if any. */
  next(): HeldMatch | undefined;
  /**
   * Hands a committed page's notifications over and, once they are written, records
   * the page's progress: pages of a match in order, so that its cursor never passes a
   * page whose pushes are not written.
   */
  afterCommit(page: HeldPage, handoff: Handoff | undefined): void;
  /** Forgets a match: its lease was lost, or it no longer needs one. */
  drop(matchId: string): void;
  /** Resolves once every page handed over so far is written and its progress recorded. */
  settled(): Promise<void>;
  /** Waits for `settled`, then gives up the leases of fan-outs not finished. */
  release(): Promise<void>;
};

type Entry = HeldMatch & { recorded: Promise<void> };

type HeldMatchesDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  leaseMs: number;
};

/**
 * The fan-outs this process holds leases on: planning runs pages ahead of what is
 * written, while each match's progress is recorded only behind its written pages.
 */
export function createHeldMatches(deps: HeldMatchesDeps): HeldMatches {
  const held = new Map<string, Entry>();
  return {
    next: () => findNextToPlan(held),
    afterCommit(page, handoff) {
      recordAfterWrite(deps, held, holdPage(held, page), page, handoff);
    },
    drop(matchId) {
      held.delete(matchId);
    },
    settled: () => waitForRecords(held),
    release: () => releaseAll(deps, held),
  };
}

function findNextToPlan(held: Map<string, Entry>): HeldMatch | undefined {
  for (const entry of held.values()) if (!entry.next.done) return entry;
  return undefined;
}

/** The match's entry, held from its first committed page on, moved on to this page. */
function holdPage(held: Map<string, Entry>, page: HeldPage): Entry {
  let entry = held.get(page.matchId);
  if (entry === undefined) {
    entry = {
      matchId: page.matchId,
      token: page.token,
      resumed: page.resumed,
      next: page.progress,
      outstanding: 0,
      recorded: Promise.resolve(),
    };
    held.set(page.matchId, entry);
  }
  entry.next = page.progress;
  entry.outstanding++;
  return entry;
}

/**
 * Hands the page over and chains the recording of its progress after the match's
 * earlier pages, so that they are recorded in order.
 */
function recordAfterWrite(
  deps: HeldMatchesDeps,
  held: Map<string, Entry>,
  current: Entry,
  page: HeldPage,
  handoff: Handoff | undefined,
): void {
  const written =
    page.handed.length === 0 || handoff === undefined
      ? Promise.resolve(true)
      : handoff.take(page.handed);
  current.recorded = current.recorded.then(async () => {
    const ours = () => held.get(page.matchId) === current;
    const ok = ours() && (await recordPage(deps, page, written));
    current.outstanding--;
    // A match dropped meanwhile may be held again, under a new entry: not this one's.
    if (ours() && (!ok || page.progress.done)) held.delete(page.matchId);
  });
}

/** Loops because a page committed while waiting chains a record that is not yet awaited. */
async function waitForRecords(held: Map<string, Entry>): Promise<void> {
  for (;;) {
    const pending = [...held.values()].map((entry) => entry.recorded);
    if (pending.length === 0) return;
    await Promise.all(pending);
    if ([...held.values()].every((e) => e.outstanding === 0)) return;
  }
}

/** Writes a page's progress once its notifications are; false when the lease is gone. */
async function recordPage(
  deps: HeldMatchesDeps,
  page: HeldPage,
  written: Promise<boolean>,
): Promise<boolean> {
  if (!(await written)) {
    deps.logger.warn(
      { matchId: page.matchId },
      "a fan-out page's outcomes could not all be written: it is planned again when its lease lapses",
    );
    return false;
  }
  if (page.reservation !== undefined)
    await forgetHandedPage(deps.db, page.reservation).catch(
      (error: unknown) => {
        // It lapses with the lease: other processes count its pushes until then.
        deps.logger.warn(
          { err: error, matchId: page.matchId },
          "forgetting a written fan-out page failed",
        );
      },
    );
  return advanceLease(deps, page);
}

/** Records the page's progress and extends the lease, if the lease is still ours. */
async function advanceLease(
  deps: HeldMatchesDeps,
  page: HeldPage,
): Promise<boolean> {
  const now = deps.clock();
  const lease = {
    token: page.token,
    until: new Date(now.getTime() + deps.leaseMs),
  };
  try {
    if (await advanceMatch(deps.db, page.matchId, page.progress, now, lease))
      return true;
    deps.logger.warn(
      { matchId: page.matchId },
      "lost the lease on a fan-out: another process plans it from its last written page",
    );
  } catch (error) {
    deps.logger.error(
      { err: error, matchId: page.matchId },
      "recording a fan-out page failed: it is planned again when its lease lapses",
    );
  }
  return false;
}

async function releaseAll(
  deps: HeldMatchesDeps,
  held: Map<string, Entry>,
): Promise<void> {
  await waitForRecords(held);
  for (const entry of [...held.values()]) {
    held.delete(entry.matchId);
    await releaseMatch(deps.db, entry.matchId, entry.token, deps.clock()).catch(
      (error: unknown) => {
        deps.logger.error(
          { err: error, matchId: entry.matchId },
          "giving up a fan-out's lease failed: another process takes it when it lapses",
        );
      },
    );
  }
}
