import type { Platform } from "../db/schema.ts";
import type { ClaimedNotification } from "./outbox.repository.ts";
import type { SendContext } from "./send-plan.ts";

/**
 * A delivery worker as the planner sees it. A notification it has room for is written
 * already claimed for it, under its lease, and given to it once the page commits: no
 * claim has to find the row again, and the devices and facts the page just read are
 * the ones it sends with.
 */
export type Handoff = {
  /**
   * Its room now, as a budget: whether a notification to these platforms fits,
   * counting it in when it does. Nothing fits while it is not running.
   */
  budget(): (platforms: readonly Platform[]) => boolean;
  /** The lease of a notification claimed at `now`. */
  leaseUntil(now: Date): Date;
  /** Sends notifications written (and committed) claimed for it. */
  take(
    claimed: readonly ClaimedNotification[],
    contexts: readonly SendContext[],
  ): void;
};
