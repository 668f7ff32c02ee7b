import type { Database } from "../db/database.ts";
import type { Logger } from "../logger.ts";
import { deleteEventsBefore } from "./event.repository.ts";

const DAY_MS = 86_400_000;
const SWEEP_EVERY_MS = 3_600_000;
const CHUNK = 5_000;

export type EventRetention = {
  /** Deletes every event older than the retention window; returns how many. */
  sweep(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
};

/**
 * Keeps the events table to EVENT_RETENTION_DAYS. Deleting in small chunks keeps each
 * transaction short, so ingest never waits behind the sweep. The window is also how
 * long a messageId is remembered for deduplication.
 */
export function createEventRetention(deps: {
  db: Database;
  logger: Logger;
  clock: () => Date;
  retentionDays: number;
}): EventRetention {
  const logger = deps.logger.child({ module: "event-retention" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  const sweep = async () => {
    const cutoff = new Date(
      deps.clock().getTime() - deps.retentionDays * DAY_MS,
    );
    let total = 0;
    for (;;) {
      const deleted = await deleteEventsBefore(deps.db, cutoff, CHUNK);
      total += deleted;
      if (deleted < CHUNK || stopped) break;
    }
    if (total > 0)
      logger.info({ deleted: total, cutoff }, "old events deleted");
    return total;
  };

  const tick = () => {
    running ??= sweep()
      .catch((error: unknown) => {
        logger.error({ err: error }, "event retention sweep failed");
        return 0;
      })
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
