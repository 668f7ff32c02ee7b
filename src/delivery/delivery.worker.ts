import type { DeliveryConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import type { Logger } from "../logger.ts";
import type { Push } from "../providers/provider.ts";
import type { Metrics } from "../metrics.ts";
import type { RuleStore } from "../rules/rule-store.ts";
import type { SegmentReporter } from "./segment-reporter.ts";
import type { Handoff } from "./handoff.ts";
import { createWorkerLoop } from "../worker-loop.ts";
import { createOutcomeRecorder } from "./outcome-recorder.ts";
import {
  claimDueNotifications,
  deferClaimed,
  reclaimLapsedClaims,
  type ClaimedNotification,
  type Deferral,
} from "./outbox.repository.ts";
import { createTimezoneResolver } from "../rules/timezone-resolver.ts";
import type { ProviderSet } from "../providers/registry.ts";
import { createLanes, sendThroughLane } from "./lanes.ts";
import { createSendWindow } from "./send-window.ts";
import { DEFAULT_PAUSE_POLICY } from "./provider-pause.ts";
import { loadSendContexts } from "./send-context.ts";
import { planBatch, type SendContext } from "./send-plan.ts";
import { releaseUpdate, settle, type PushResult } from "./settlement.ts";

export type DeliveryDeps = {
  db: Database;
  logger: Logger;
  clock: () => Date;
  rules: RuleStore;
  providers: ProviderSet;
  config: DeliveryConfig;
  metrics: Pick<Metrics, "sends" | "sendSeconds">;
  /** Reports final outcomes back to Segment, when configured. */
  reporter?: SegmentReporter | undefined;
};

export type DeliveryWorker = Handoff & {
  start(): void;
  /** Asks the worker to look for due notifications now (planning added some). */
  poke(): void;
  /** Delivers until nothing is due and nothing is in flight; for tests and tools. */
  drain(): Promise<void>;
  /** Stops claiming, finishes the sends in flight, gives back what was not sent. */
  stop(): Promise<void>;
  /** Pushes queued or in flight in this process, by provider. */
  depths(): Record<string, number>;
};

const IDLE_POLL_MS = 1_000;

/**
 * Sends due notifications through per-provider lanes that hold each provider to its
 * rate and concurrency. A batch is claimed only when every lane has room, so a slow
 * provider slows the claiming instead of piling claimed rows up in memory while their
 * lease runs out. Outcomes are recorded in batches.
 */
export function createDeliveryWorker(deps: DeliveryDeps): DeliveryWorker {
  const logger = deps.logger.child({ module: "delivery" });
  const { config } = deps;
  const lanes = createLanes(deps.providers, config.limits, config.batchSize, {
    policy: { ...DEFAULT_PAUSE_POLICY, retryAfterMaxMs: config.retryMaxMs },
    logger,
  });
  // A write per quarter of the window keeps sends going while outcomes are written.
  const recorder = createOutcomeRecorder({
    ...deps,
    logger,
    flushAt: Math.max(1, Math.floor(config.batchSize / 4)),
  });
  const window = createSendWindow(config.batchSize);
  const sendDeps = { clock: deps.clock, logger, metrics: deps.metrics };
  const backoff = { baseMs: config.retryBaseMs, maxMs: config.retryMaxMs };
  const timezoneOf = createTimezoneResolver(
    logger,
    () => deps.rules.current().settings,
  );

  // Once set, queued sends are given back instead of sent.
  let stopping = false;
  // While set, the planner hands this worker the notifications due now.
  let running = false;
  let lastReclaim = 0;
  const sending = new Set<Promise<void>>();

  /**
   * Sends one notification's pushes through their lanes and records what came of it,
   * inside the send window: from its first send until its outcome is written.
   */
  const deliver = async (
    claimed: ClaimedNotification,
    context: SendContext,
    pushes: readonly Push[],
  ) => {
    await window.enter();
    try {
      await sendAndRecord(claimed, context, pushes);
    } finally {
      window.leave();
    }
  };

  const sendAndRecord = async (
    claimed: ClaimedNotification,
    context: SendContext,
    pushes: readonly Push[],
  ) => {
    const results = await Promise.all(
      pushes.map((push) => {
        const lane = lanes.of(push.platform);
        return lane.queue.add(() =>
          stopping ? undefined : sendThroughLane(lane, push, sendDeps),
        );
      }),
    );
    const done = results.filter((r) => r !== undefined);
    if (done.length === 0) {
      await recorder.record({ update: releaseUpdate(claimed) });
      return;
    }
    // Shutdown interrupted part of this notification: the rest go on the next attempt.
    const interrupted = pushes
      .filter((_, i) => results[i] === undefined)
      .map((push): PushResult => ({
        push,
        provider: lanes.of(push.platform).provider.name,
        outcome: { kind: "retry", reason: "shutdown" },
      }));
    const now = deps.clock();
    const settlement = settle(
      claimed,
      [...done, ...interrupted],
      context.settled,
      now,
      backoff,
      config.maxAttempts,
    );
    const written = recorder.record(settlement);
    const { status, reason } = settlement.update;
    if (status === "sent" || status === "failed") {
      deps.reporter?.report({
        userId: claimed.userId,
        notificationId: claimed.notificationId,
        ruleId: claimed.ruleId,
        status,
        reason,
        platforms: done
          .filter((r) => r.outcome.kind === "sent")
          .map((r) => r.push.platform),
        at: now,
      });
    }
    await written;
  };

  /** Claims one batch and starts its sends. False when nothing was due. */
  const dispatchBatch = async (): Promise<boolean> => {
    const now = deps.clock();
    if (now.getTime() - lastReclaim >= config.leaseMs / 4) {
      lastReclaim = now.getTime();
      const reclaimed = await reclaimLapsedClaims(deps.db, now);
      if (reclaimed > 0)
        logger.warn(
          { reclaimed },
          "reclaimed notifications whose claim lapsed",
        );
    }
    // Claims wait for a quarter of the window, so that they stay large.
    const least = Math.max(1, Math.floor(config.batchSize / 4));
    if (window.room() < least) {
      await Promise.race([lanes.onRoom(), window.onRoom(least)]);
      return true;
    }
    const limit = Math.min(config.batchSize, lanes.room(), window.room());
    if (limit <= 0) {
      await lanes.onRoom();
      return true;
    }
    const claimed = await claimDueNotifications(
      deps.db,
      now,
      limit,
      config.leaseMs,
    );
    if (claimed.length === 0) return false;
    const contexts = await loadSendContexts(
      deps.db,
      deps.rules.current(),
      claimed,
      now,
    );
    startSends(claimed, contexts);
    return true;
  };

  /** Keeps track of work on claimed rows, so that shutdown and drain wait for it. */
  const track = (work: Promise<void>) => {
    sending.add(work);
    void work.finally(() => sending.delete(work));
  };

  /** Checks a claimed batch against the policy once more and starts its sends. */
  const startSends = (
    claimed: readonly ClaimedNotification[],
    contexts: readonly SendContext[],
  ) => {
    const deferrals: Deferral[] = [];
    planBatch(claimed, contexts, timezoneOf).forEach((plan, index) => {
      const notification = claimed[index] as ClaimedNotification;
      const context = contexts[index] as SendContext;
      if (plan.kind === "skip") {
        void recorder.record({ update: plan.update });
        return;
      }
      if (plan.kind === "defer") {
        deferrals.push(plan.deferral);
        return;
      }
      track(
        deliver(notification, context, plan.pushes).catch((error: unknown) => {
          // A bug, not a provider's answer: the claim lapses and the row is retried.
          logger.error(
            { err: error, notificationId: notification.notificationId },
            "delivering a notification failed",
          );
        }),
      );
    });
    if (deferrals.length === 0) return;
    track(
      deferClaimed(deps.db, deferrals, deps.clock()).catch((error: unknown) => {
        // The claims lapse, and the rows are claimed and checked again.
        logger.error(
          { err: error, deferred: deferrals.length },
          "deferring notifications to the end of quiet hours failed",
        );
      }),
    );
  };

  /** Waits for every send started so far and for their outcomes to be written. */
  const settleInFlight = async () => {
    while (sending.size > 0) await Promise.all(sending);
    await recorder.flush();
  };

  const loop = createWorkerLoop({
    logger,
    step: async () => {
      if (await dispatchBatch()) return true;
      await recorder.flush();
      return false;
    },
    idleMs: IDLE_POLL_MS,
    failure: "delivery failed",
  });

  return {
    start() {
      stopping = false;
      running = true;
      loop.start();
    },
    budget: () => {
      if (!running) return () => false;
      const fits = lanes.budget();
      let room = window.room();
      return (platforms) => {
        if (room <= 0 || !fits(platforms)) return false;
        room--;
        return true;
      };
    },
    leaseUntil: (now) => new Date(now.getTime() + config.leaseMs),
    take: startSends,
    poke: () => {
      loop.poke();
    },
    async drain() {
      stopping = false;
      while (await dispatchBatch()) {
        // Keep claiming while anything is due.
      }
      await settleInFlight();
    },
    depths: () => lanes.depths(),
    async stop() {
      stopping = true;
      running = false;
      lanes.wakeWaiters();
      window.wake();
      await loop.stop();
      await settleInFlight();
    },
  };
}
