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
export function createRetention(deps: RetentionDeps): Retention {
  const state: RetentionState = {
    deps,
    logger: deps.logger.child({ module: "retention" }),
    timer: undefined,
    running: undefined,
    stopped: false,
  };
  const tick = () => {
    sweepInBackground(state);
  };
  return {
    sweep: () => sweepOldRecords(state),
    start() {
      state.timer = setInterval(tick, SWEEP_EVERY_MS);
      state.timer.unref();
      tick();
    },
    async stop() {
      state.stopped = true;
      clearInterval(state.timer);
      await state.running;
    },
  };
}

type RetentionDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  eventDays: number;
  notificationDays: number;
};

/** What the sweeps of one retention share. */
type RetentionState = {
  readonly deps: RetentionDeps;
  readonly logger: Logger;
  timer: NodeJS.Timeout | undefined;
  /** The sweep under way: a tick while one runs starts no other. */
  running: Promise<void> | undefined;
  stopped: boolean;
};

function sweepInBackground(state: RetentionState): void {
  state.running ??= sweepOldRecords(state)
    .then(
      () => undefined,
      (error: unknown) => {
        state.logger.error({ err: error }, "retention sweep failed");
      },
    )
    .finally(() => {
      state.running = undefined;
    });
}

async function sweepOldRecords(state: RetentionState): Promise<SweepReport> {
  const { deps } = state;
  const { db } = deps;
  const now = deps.clock().getTime();
  const eventCutoff = new Date(now - deps.eventDays * DAY_MS);
  const cutoff = floorHour(new Date(now - deps.notificationDays * DAY_MS));
  const events = await deleteInChunks(state, () =>
    deleteEventsBefore(db, eventCutoff, CHUNK),
  );
  await refreshStats(db, { to: cutoff });
  const notifications = await deleteOldNotifications(state, cutoff);
  const matches = await deleteInChunks(state, () =>
    deleteSettledMatchesBefore(db, cutoff, CHUNK),
  );
  const disablings = await deleteDisablingsBefore(db, cutoff);
  await deleteUnattributedFeedbackBefore(db, cutoff);
  // Pages handed over by processes that died: ignored since their lease ended.
  await deleteLapsedHandedPages(db, new Date(now));
  const report = { events, notifications, matches, disablings };
  if (Object.values(report).some((n) => n > 0))
    state.logger.info(
      { ...report, eventCutoff, cutoff },
      "old records deleted",
    );
  return report;
}

/**
 * Rule by rule, since old notifications are found only through their rule's index; a
 * chunk and its deliveries go in one transaction.
 */
async function deleteOldNotifications(
  state: RetentionState,
  cutoff: Date,
): Promise<number> {
  const { db } = state.deps;
  let notifications = 0;
  for (const ruleId of await rulesWithNotifications(db)) {
    notifications += await deleteInChunks(state, () =>
      inTransaction(db, (trx) =>
        deleteNotificationsBefore(trx, ruleId, cutoff, CHUNK),
      ),
    );
  }
  return notifications;
}

/** Runs `step` until it deletes less than a chunk (or the process stops). */
async function deleteInChunks(
  state: RetentionState,
  step: () => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await step();
    total += deleted;
    if (deleted < CHUNK || state.stopped) return total;
  }
}
