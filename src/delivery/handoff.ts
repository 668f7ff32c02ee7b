import { randomUUID } from "node:crypto";
import type { Platform } from "../db/schema.ts";
import { mapInTurns } from "../in-turns.ts";
import type { ClaimedNotification } from "./claim.repository.ts";
import type { UnwrittenNotification } from "./outbox.repository.ts";
import type { Lanes } from "./lanes.ts";
import type { SendContext } from "./send-decision.ts";
import type { SendWindow } from "./send-window.ts";

/** A notification planned due now, given to delivery unwritten, with what it is sent with. */
export type HandedNotification = {
  notification: UnwrittenNotification;
  context: SendContext;
};

/**
 * A notification handed over and not written yet, as caps and dedupe count it; an
 * uncapped one (a silent push) counts for dedupe and its rule's own cap only.
 */
export type InFlight = {
  ruleId: string;
  itemKey: string | null;
  uncapped: boolean;
};

/**
 * A delivery worker as the planner sees it. A notification due now that it has room
 * for is handed over without a row: it is sent with the devices and facts the page just
 * read, and written once, with its outcome. Until then it exists only in this process,
 * which is why the planner counts `inFlight` in its caps and dedupe, and moves its
 * match's cursor past a page only once `take` says the whole page is written.
 */
export type Handoff = {
  /**
   * This process, as the pages it hands over are recorded for planners elsewhere
   * (handed-pages.repository.ts): its own in flight it knows from `inFlight`.
   */
  readonly owner: string;
  /**
   * Its room now, as a budget: whether a notification to these platforms fits,
   * counting it in when it does. Nothing fits while it is not running.
   */
  budget(): (platforms: readonly Platform[]) => boolean;
  /**
   * Resolves once it has room for `wanted` notifications (at once while it is not
   * running): a page planned with room is handed over, not written to wait for a claim.
   */
  whenRoom(wanted: number): Promise<void>;
  /**
   * Sends these notifications and writes each with its outcome. Resolves true once all
   * are written; false when some could not be (their page is planned again when its
   * match's lease lapses, and they are sent again under the same collapse id).
   */
  take(handed: readonly HandedNotification[]): Promise<boolean>;
  /** This user's notifications handed over and not yet written. */
  inFlight(userId: string): readonly InFlight[];
};

/**
 * Notifications handed over that may wait to enter the send window: one page of a
 * fan-out, so that the planner plans the next page while the window sends the last.
 * They were not sent, so a crash plans them again rather than repeating them. Each
 * waits with its facts, devices and message, which the garbage collector copies at
 * every scavenge: with two pages waiting instead of one, the 100,000-saver fan-out
 * took more CPU and memory and was no faster.
 */
export const HANDOFF_QUEUE = 1_000;

/** The handoff of a delivery worker: its room is its send window and HANDOFF_QUEUE. */
export function createHandoff(parts: {
  lanes: Pick<Lanes, "budget">;
  window: Pick<SendWindow, "room" | "onRoom">;
  running: () => boolean;
  /** Starts the sends of claimed notifications; per notification, whether it was written. */
  startSends: (
    claimed: readonly ClaimedNotification[],
    contexts: readonly SendContext[],
  ) => Promise<boolean>[];
}): Handoff {
  const { lanes, window } = parts;
  const inFlight = createInFlight();
  return {
    owner: randomUUID(),
    budget() {
      if (!parts.running()) return () => false;
      const fits = lanes.budget();
      let room = window.room() + HANDOFF_QUEUE;
      return (platforms) => {
        if (room <= 0 || !fits(platforms)) return false;
        room--;
        return true;
      };
    },
    async whenRoom(wanted) {
      if (!parts.running()) return;
      await window.onRoom(Math.min(wanted, HANDOFF_QUEUE) - HANDOFF_QUEUE);
    },
    async take(handed) {
      for (const { notification } of handed) inFlight.add(notification);
      const started = await mapInTurns(handed, (chunk) =>
        parts.startSends(
          chunk.map(({ notification }) => asClaimed(notification)),
          chunk.map((h) => h.context),
        ),
      );
      const written = started.map((done, index) =>
        done.finally(() => {
          inFlight.remove((handed[index] as HandedNotification).notification);
        }),
      );
      return (await Promise.all(written)).every(Boolean);
    },
    inFlight: (userId) => inFlight.of(userId),
  };
}

/** The notification handed over unwritten, as delivery's steps take a claimed one. */
function asClaimed(notification: UnwrittenNotification): ClaimedNotification {
  return {
    userId: notification.userId,
    notificationId: notification.notificationId,
    ruleId: notification.ruleId,
    itemKey: notification.itemKey,
    category: notification.category ?? null,
    attempt: 1,
    expiresAt: notification.expiresAt ?? null,
    content: notification.content ?? null,
    createdAt: notification.plannedAt,
    // No row holds a claim: the outcome is inserted, not fenced.
    claimedUntil: notification.plannedAt,
    unwritten: notification,
  };
}

/** Notifications handed over and not yet written, by user. */
function createInFlight() {
  const byUser = new Map<string, UnwrittenNotification[]>();
  return {
    add(notification: UnwrittenNotification) {
      const entries = byUser.get(notification.userId);
      if (entries === undefined)
        byUser.set(notification.userId, [notification]);
      else entries.push(notification);
    },
    remove(notification: UnwrittenNotification) {
      const entries = byUser.get(notification.userId) ?? [];
      const index = entries.indexOf(notification);
      if (index !== -1) entries.splice(index, 1);
      if (entries.length === 0) byUser.delete(notification.userId);
    },
    of: (userId: string): readonly InFlight[] =>
      (byUser.get(userId) ?? []).map((n) => ({
        ruleId: n.ruleId,
        itemKey: n.itemKey,
        uncapped: n.content?.uncapped === true,
      })),
  };
}
