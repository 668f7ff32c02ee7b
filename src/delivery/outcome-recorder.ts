import type { Database } from "../db/database.ts";
import type { Logger } from "../logger.ts";
import {
  recordOutcomes,
  type DeliveryRecord,
  type DeviceDisabling,
  type NotificationUpdate,
} from "./outcome.repository.ts";

export type OutcomeRecorder = {
  /**
   * Queues one notification's outcome for the next write; resolves true once it is
   * written, false when it was given up because its claim lapsed. Never rejects.
   */
  record(outcome: {
    update: NotificationUpdate;
    deliveries?: readonly DeliveryRecord[];
    disablings?: readonly DeviceDisabling[];
  }): Promise<boolean>;
  /** Writes everything recorded so far. Never rejects. */
  flush(): Promise<void>;
};

type WriteDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  config: { leaseMs: number };
};

type OutcomeBatch = {
  notifications: NotificationUpdate[];
  deliveries: DeliveryRecord[];
  disablings: DeviceDisabling[];
};

const FLUSH_AFTER_MS = 50;
const MAX_BACKOFF_MS = 10_000;

/**
 * Collects outcomes and writes them in batches, one write at a time and in order: a
 * statement per few hundred sends instead of one per send. A batch starts once
 * `flushAt` outcomes wait or FLUSH_AFTER_MS after the first; what is recorded while a
 * write runs goes into the next write, all of it, as soon as that one ends. Cutting it
 * into batches of `flushAt` instead would queue writes behind each other whenever one
 * takes longer than `flushAt` sends, and each outcome waits for its write inside the
 * send window: the sends would slow to the pace of those small writes.
 */
export function createOutcomeRecorder(
  deps: WriteDeps & {
    /** Outcomes that make a write at once, without waiting FLUSH_AFTER_MS for more. */
    flushAt: number;
  },
): OutcomeRecorder {
  let updates: NotificationUpdate[] = [];
  let deliveries: DeliveryRecord[] = [];
  let disablings: DeviceDisabling[] = [];
  // When the oldest outcome not yet taken into a write was recorded.
  let oldestAt = 0;
  let timer: NodeJS.Timeout | undefined;
  // The writes running now, until nothing is left to write.
  let writing: Promise<void> | undefined;
  // Settles when the outcomes recorded since the last batch are written (or given up).
  let written: PromiseWithResolvers<boolean> | undefined;

  /**
   * Writes batch after batch until nothing recorded is left. It ends in the same turn
   * as it finds nothing left: an outcome recorded after that starts a new run.
   */
  const writeAll = async (): Promise<void> => {
    try {
      while (updates.length > 0) {
        const batch = { notifications: updates, deliveries, disablings };
        updates = [];
        deliveries = [];
        disablings = [];
        const done = written;
        written = undefined;
        done?.resolve(await writeBatch(deps, batch, oldestAt));
      }
    } finally {
      writing = undefined;
    }
  };

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    // Its first batch is written after an await, so `writing` is set before it ends.
    if (writing === undefined && updates.length > 0) writing = writeAll();
    return writing ?? Promise.resolve();
  };

  return {
    record(outcome) {
      if (updates.length === 0) oldestAt = Date.now();
      updates.push(outcome.update);
      deliveries.push(...(outcome.deliveries ?? []));
      disablings.push(...(outcome.disablings ?? []));
      written ??= Promise.withResolvers();
      const { promise } = written;
      if (updates.length >= deps.flushAt) void flush();
      else timer ??= setTimeout(() => void flush(), FLUSH_AFTER_MS);
      return promise;
    },
    flush,
  };
}

/**
 * Writes one batch, trying again with backoff until it is written (true) or its oldest
 * outcome's claim has lapsed (false).
 */
async function writeBatch(
  deps: WriteDeps,
  batch: OutcomeBatch,
  startedAt: number,
): Promise<boolean> {
  const { logger } = deps;
  for (let failures = 0; ; failures++) {
    try {
      await recordOutcomes(deps.db, batch, deps.clock());
      logDisablings(logger, batch.disablings);
      return true;
    } catch (error) {
      // The rows stay claimed until their lease lapses; writing before then keeps
      // them from being sent again. After that, another process owns them.
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures);
      const gaveUp = Date.now() + delay - startedAt > deps.config.leaseMs;
      logger.error(
        { err: error, failures: failures + 1, gaveUp },
        "recording delivery outcomes failed",
      );
      if (gaveUp) return false;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Logged once written, so that the log never names a device that is still enabled. */
function logDisablings(
  logger: Logger,
  disablings: readonly DeviceDisabling[],
): void {
  for (const d of disablings) {
    logger.warn(
      {
        userId: d.userId,
        deviceId: d.deviceId,
        provider: d.provider,
        reason: d.reason,
      },
      "device disabled: the provider refused its token",
    );
  }
}
