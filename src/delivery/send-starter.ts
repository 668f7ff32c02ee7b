import type { Logger } from "../logger.ts";
import {
  deferClaimed,
  type ClaimedNotification,
  type Deferral,
} from "./claim.repository.ts";
import type { Database } from "../db/database.ts";
import type { NotificationSender } from "./notification-sender.ts";
import type { OutcomeRecorder } from "./outcome-recorder.ts";
import { decideBatch, type SendContext } from "./send-decision.ts";
import { deferredUpdate } from "./settlement.ts";

/** Starts the sends of a batch; per notification, whether its outcome was written. */
export type SendStarter = (
  claimed: readonly ClaimedNotification[],
  contexts: readonly SendContext[],
) => Promise<boolean>[];

/**
 * Checks a batch (claimed, or handed over by planning) against the policy once more
 * and starts its sends: a notification settled without a send is recorded, one that
 * must wait for the end of quiet hours is put back (a handed-over one is written
 * pending), the others go to their devices.
 */
export function createSendStarter(deps: {
  db: Database;
  logger: Logger;
  clock: () => Date;
  recorder: OutcomeRecorder;
  timezoneOf: (zone: string | null) => string;
  deliver: NotificationSender;
  /** Keeps track of work on claimed rows, so that shutdown and drain wait for it. */
  track: (work: Promise<unknown>) => void;
}): SendStarter {
  const { logger, recorder, deliver, track, timezoneOf } = deps;
  /**
   * Checks a claimed batch against the policy once more and starts its sends. Returns,
   * per notification, whether its outcome was written.
   */
  const startSends = (
    claimed: readonly ClaimedNotification[],
    contexts: readonly SendContext[],
  ): Promise<boolean>[] => {
    const deferrals: Deferral[] = [];
    const written = decideBatch(claimed, contexts, timezoneOf).map(
      (decision, index): Promise<boolean> => {
        const notification = claimed[index] as ClaimedNotification;
        if (decision.kind === "skip")
          return recorder.record({ update: decision.update });
        if (decision.kind === "defer") {
          if (notification.unwritten === undefined) {
            deferrals.push(decision.deferral);
            return Promise.resolve(true);
          }
          const update = deferredUpdate(notification, decision.deferral.until);
          return recorder.record({ update });
        }
        const work = deliver(
          notification,
          contexts[index] as SendContext,
          decision.pushes,
        ).catch((error: unknown) => {
          // A bug, not a provider's answer: the claim lapses and the row is retried.
          logger.error(
            { err: error, notificationId: notification.notificationId },
            "delivering a notification failed",
          );
          return false;
        });
        track(work);
        return work;
      },
    );
    if (deferrals.length > 0) {
      track(
        deferClaimed(deps.db, deferrals, deps.clock()).catch(
          (error: unknown) => {
            // The claims lapse, and the rows are claimed and checked again.
            logger.error(
              { err: error, deferred: deferrals.length },
              "deferring notifications to the end of quiet hours failed",
            );
          },
        ),
      );
    }
    return written;
  };

  return startSends;
}
