import type { Database } from "../db/database.ts";
import { inTransaction } from "../db/transaction.ts";
import { deleteEventsBefore } from "../ingest/event.repository.ts";
import type { Logger } from "../logger.ts";
import { refreshStats } from "../stats/stats-rollup.ts";
import { floorHour } from "../stats/stats.repository.ts";
import { deleteLapsedHandedPages } from "../delivery/handed-pages.repository.ts";
import {
  deleteNotificationsBefore,
  rulesWithNotifications,
} from "../delivery/notification-retention.repository.ts";
import { deleteSettledMatchesBefore } from "../planning/match.repository.ts";
import { deleteDisablingsBefore } from "../profiles/device.repository.ts";
import { deleteUnattributedFeedbackBefore } from "../stats/feedback.repository.ts";

const DAY_MS = 86_400_000;
const SWEEP_EVERY_MS = 3_600_000;
const CHUNK = 5_000;

/** What one sweep deleted. */
export type SweepReport = {
  events: number;
  notifications: number;
  matches: number;
  disablings: number;
};

export type Retention = {
  /** Deletes everything older than its retention window. */
  sweep(): Promise<SweepReport>;
  start(): void;
  stop(): Promise<void>;
};

/**
 * Keeps events to EVENT_RETENTION_DAYS (also how long a messageId is remembered for
 * deduplication) and notifications with their deliveries, planned rule matches and
 * audits to NOTIFICATION_RETENTION_DAYS. Deleting in small chunks keeps each
 * transaction short, so ingest and delivery never wait long behind the sweep.
 *
 * Deleted notifications stay in the stats: their hours are refreshed first, then
 * frozen in the rollup. So the notifications' cutoff is the start of an hour.
 */
export function createRetention(deps: {
  db: Database;
  logger: Logger;
  clock: () => Date;
  eventDays: number;
  notificationDays: number;
}): Retention {
  const { db } = deps;
  const logger = deps.logger.child({ module: "retention" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  /** Runs `step` until it deletes less than a chunk (or the process stops). */
  const inChunks = async (step: () => Promise<number>) => {
    let total = 0;
    for (;;) {
      const deleted = await step();
      total += deleted;
      if (deleted < CHUNK || stopped) return total;
    }
  };

  const sweep = async (): Promise<SweepReport> => {
    const now = deps.clock().getTime();
    const eventCutoff = new Date(now - deps.eventDays * DAY_MS);
    const cutoff = floorHour(new Date(now - deps.notificationDays * DAY_MS));
    const events = await inChunks(() =>
      deleteEventsBefore(db, eventCutoff, CHUNK),
    );
    await refreshStats(db, { to: cutoff });
    let notifications = 0;
    for (const ruleId of await rulesWithNotifications(db)) {
      notifications += await inChunks(() =>
        inTransaction(db, (trx) =>
          deleteNotificationsBefore(trx, ruleId, cutoff, CHUNK),
        ),
      );
    }
    const matches = await inChunks(() =>
      deleteSettledMatchesBefore(db, cutoff, CHUNK),
    );
    const disablings = await deleteDisablingsBefore(db, cutoff);
    await deleteUnattributedFeedbackBefore(db, cutoff);
    // Pages handed over by processes that died: ignored since their lease ended.
    await deleteLapsedHandedPages(db, new Date(now));
    const report = { events, notifications, matches, disablings };
    if (Object.values(report).some((n) => n > 0))
      logger.info({ ...report, eventCutoff, cutoff }, "old records deleted");
    return report;
  };

  const tick = () => {
    running ??= sweep()
      .then(
        () => undefined,
        (error: unknown) => {
          logger.error({ err: error }, "retention sweep failed");
        },
      )
      .finally(() => {
        running = undefined;
      });
  };

  return {
    sweep,
    start() {
      timer = setInterval(tick, SWEEP_EVERY_MS);
      timer.unref();
      tick();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
