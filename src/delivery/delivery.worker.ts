import type { DeliveryConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { RuleStore } from "../rules/rule-store.ts";
import type { SegmentReporter } from "./segment-reporter.ts";
import { createHandoff, type Handoff } from "./handoff.ts";
import { createWorkerLoop } from "../worker-loop.ts";
import { createOutcomeRecorder } from "./outcome-recorder.ts";
import {
  claimDueNotifications,
  reclaimLapsedClaims,
} from "./claim.repository.ts";
import { createTimezoneResolver } from "../rules/timezone-resolver.ts";
import type { ProviderSet } from "../providers/registry.ts";
import { createLanes } from "./lanes.ts";
import { createNotificationSender } from "./notification-sender.ts";
import { createSendStarter } from "./send-starter.ts";
import { createSendWindow } from "./send-window.ts";
import { DEFAULT_PAUSE_POLICY } from "./provider-pause.ts";
import { loadSendContexts } from "./send-context.ts";

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
  // Once set, queued sends are given back instead of sent.
  let stopping = false;
  // While set, the planner hands this worker the notifications due now.
  let running = false;
  const claiming = { lastReclaim: 0 };
  const parts = createSendParts(deps, logger, {
    stopping: () => stopping,
    running: () => running,
  });
  const { lanes, recorder, window, handoff } = parts;
  const dispatchBatch = () => dispatchNextBatch(deps, logger, parts, claiming);
  const settleInFlight = () => settleSends(parts);

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
    ...handoff,
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

/**
 * Claims one batch and starts its sends. False when nothing was due. Claims that
 * lapsed are given back first, at most once a quarter lease, so that a dead process's
 * rows return to the queue soon after its lease runs out. While the lanes or the send
 * window are short of room, it waits for room instead and claims nothing.
 */
async function dispatchNextBatch(
  deps: DeliveryDeps,
  logger: Logger,
  { lanes, window, startSends, handoff }: SendParts,
  claiming: { lastReclaim: number },
): Promise<boolean> {
  const { config } = deps;
  const now = deps.clock();
  if (now.getTime() - claiming.lastReclaim >= config.leaseMs / 4) {
    claiming.lastReclaim = now.getTime();
    const reclaimed = await reclaimLapsedClaims(deps.db, now);
    if (reclaimed > 0)
      logger.warn({ reclaimed }, "reclaimed notifications whose claim lapsed");
  }
  // Claims wait for a quarter of the window, so that they stay large.
  const least = Math.max(1, Math.floor(config.batchSize / 4));
  if (window.room() < least) {
    await window.onRoom(least);
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
    handoff,
  );
  void startSends(claimed, contexts);
  return true;
}

/** Waits for every send started so far and for their outcomes to be written. */
async function settleSends({ sending, recorder }: SendParts): Promise<void> {
  while (sending.size > 0) await Promise.all(sending);
  await recorder.flush();
}

type SendParts = ReturnType<typeof createSendParts>;

/**
 * What sends: the per-provider lanes, the send window, the outcome recorder, the sends
 * in flight (which shutdown and drain wait for), and the starter of a batch's sends and
 * the planner's handoff built on them.
 */
function createSendParts(
  deps: DeliveryDeps,
  logger: Logger,
  state: { stopping: () => boolean; running: () => boolean },
) {
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
  const sending = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    sending.add(work);
    void work.finally(() => sending.delete(work));
  };
  const startSends = createSendStarter({
    ...deps,
    logger,
    recorder,
    track,
    timezoneOf: createTimezoneResolver(
      logger,
      () => deps.rules.current().settings,
    ),
    deliver: createNotificationSender({
      ...deps,
      logger,
      lanes,
      window,
      recorder,
      stopping: state.stopping,
    }),
  });
  const handoff = createHandoff({
    lanes,
    window,
    running: state.running,
    startSends,
  });
  return { lanes, recorder, window, sending, startSends, handoff };
}
