import type { Kysely } from "kysely";
import type { DB, NotificationStatus } from "../db/schema.ts";
import {
  cancelPendingNotifications,
  countMatchNotifications,
} from "../delivery/outbox.repository.ts";
import {
  findMatch,
  stopMatch,
  type MatchRecord,
} from "./match-control.repository.ts";

/** A match with how many of its notifications are in each status. */
export type MatchView = MatchRecord & {
  notifications: Partial<Record<NotificationStatus, number>>;
};

export async function describeMatch(
  db: Kysely<DB>,
  matchId: string,
): Promise<MatchView | undefined> {
  const match = await findMatch(db, matchId);
  if (match === undefined) return undefined;
  return {
    ...match,
    notifications: await countMatchNotifications(db, matchId),
  };
}

/** The reason a notification cancelled through the admin API records. */
export const CANCELLED_BY_OPERATOR = "cancelled_by:operator";

export type CancelledMatch = {
  match: MatchRecord;
  /** Whether this call stopped it (false: it was cancelled before). */
  stopped: boolean;
  /** The notifications that were waiting and will not be sent. */
  cancelled: number;
};

/**
 * Stops a match's planning, then cancels its notifications that wait (for their
 * delay, quiet hours or window, or for a send slot). Stopping first makes the order
 * safe: the page being planned when the call came is written before the stop takes
 * effect, so its notifications are cancelled too, and no page comes after it. What a
 * sender already holds goes out: at most one send window of pushes.
 */
export async function cancelMatch(
  db: Kysely<DB>,
  matchId: string,
  now: Date,
): Promise<CancelledMatch | undefined> {
  const stopped = await stopMatch(db, matchId, now);
  const cancelled = await cancelPendingNotifications(
    db,
    { matchId },
    CANCELLED_BY_OPERATOR,
    now,
  );
  const match = await findMatch(db, matchId);
  return match === undefined ? undefined : { match, stopped, cancelled };
}
