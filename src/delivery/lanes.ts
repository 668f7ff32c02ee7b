import PQueue from "p-queue";
import type { ProviderLimits } from "../config.ts";
import type { Platform } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import {
  RetryCause,
  type Push,
  type PushProvider,
  type SendOutcome,
} from "../providers/provider.ts";
import type { ProviderSet } from "../providers/registry.ts";
import {
  createProviderPauses,
  type Outage,
  type PauseChange,
  type PausePolicy,
  type ProviderPauses,
} from "./provider-pause.ts";
import type { PushResult } from "./settlement.ts";

/**
 * A provider, the queue that holds it to its rate and concurrency, and the pauses of
 * its services while they are down.
 */
export type Lane = {
  provider: PushProvider;
  queue: PQueue;
  backlogLimit: number;
  pauses: ProviderPauses;
};

export type Lanes = {
  of(platform: Platform): Lane;
  /** How many more pushes may be queued before some lane is full. */
  room(): number;
  /**
   * The room each lane has now, as a budget: whether one more notification to these
   * platforms fits, counting it in when it does.
   */
  budget(): (platforms: readonly Platform[]) => boolean;
  /** Pushes queued or in flight, by provider. */
  depths(): Record<string, number>;
  /** Resolves when a full lane has room again (or `wakeWaiters` is called). */
  onRoom(): Promise<void>;
  wakeWaiters(): void;
};

/** Limits of a provider that has none configured: the log provider. */
const UNLIMITED: ProviderLimits = { ratePerSec: undefined, concurrency: 100 };

/**
 * One lane per provider. A lane's backlog (pushes waiting, not yet started) may hold a
 * whole batch, or twice its concurrency, so that claims stay full-sized and the
 * provider never waits for the next one; with a rate limit, no more than about two
 * seconds of it, so that a claim's lease outlives its wait.
 */
export function createLanes(
  providers: ProviderSet,
  limits: Readonly<Partial<Record<string, ProviderLimits>>>,
  batchSize: number,
  pausing: { policy: PausePolicy; logger: Logger },
): Lanes {
  const byProvider = new Map<PushProvider, Lane>();
  for (const provider of new Set(Object.values(providers))) {
    byProvider.set(
      provider,
      createLane(
        provider,
        limits[provider.name] ?? UNLIMITED,
        batchSize,
        pausing,
      ),
    );
  }
  const all = [...byProvider.values()];
  let wake: (() => void) | undefined;
  const of = (platform: Platform): Lane => {
    const lane = byProvider.get(providers[platform]);
    if (lane === undefined) throw new Error(`no provider for ${platform}`);
    return lane;
  };
  return {
    of,
    depths: () =>
      Object.fromEntries(
        all.map((lane) => [
          lane.provider.name,
          lane.queue.size + lane.queue.pending,
        ]),
      ),
    room: () =>
      Math.min(...all.map((lane) => lane.backlogLimit - lane.queue.size)),
    budget() {
      const left = new Map(
        all.map((lane) => [lane, lane.backlogLimit - lane.queue.size]),
      );
      return (platforms) => {
        const needed = platforms.map(of);
        if (needed.some((lane) => (left.get(lane) ?? 0) <= 0)) return false;
        for (const lane of needed) left.set(lane, (left.get(lane) ?? 0) - 1);
        return true;
      };
    },
    onRoom: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        for (const lane of all) {
          if (lane.queue.size >= lane.backlogLimit)
            void lane.queue.onSizeLessThan(lane.backlogLimit).then(resolve);
        }
      }),
    wakeWaiters: () => wake?.(),
  };
}

/** A provider's lane, sized as {@link createLanes} explains. */
function createLane(
  provider: PushProvider,
  { ratePerSec, concurrency }: ProviderLimits,
  batchSize: number,
  pausing: { policy: PausePolicy; logger: Logger },
): Lane {
  const queue = new PQueue({
    concurrency,
    ...(ratePerSec === undefined
      ? {}
      : { interval: 1000, intervalCap: Math.max(1, Math.round(ratePerSec)) }),
  });
  const unlimited = Math.max(batchSize, 2 * concurrency);
  const backlogLimit =
    ratePerSec === undefined
      ? unlimited
      : Math.max(1, Math.min(unlimited, Math.ceil(2 * ratePerSec)));
  const pauses = createProviderPauses({
    policy: pausing.policy,
    onChange: (change) => {
      logPauseChange(pausing.logger, provider.name, change);
    },
  });
  return { provider, queue, backlogLimit, pauses };
}

/**
 * Sends one push through its lane, unless its service is paused: then it is not sent,
 * and its result carries the outage, as does a failure that is part of one.
 */
export async function sendThroughLane(
  lane: Lane,
  push: Push,
  deps: {
    clock: () => Date;
    logger: Logger;
    metrics: Pick<Metrics, "sends" | "sendSeconds">;
  },
): Promise<PushResult> {
  const { provider } = lane;
  const service = provider.serviceOf?.(push) ?? provider.name;
  for (;;) {
    const admission = lane.pauses.admit(service, deps.clock());
    if (admission.kind === "send") break;
    if (admission.kind === "paused")
      return notSent(push, provider.name, admission.outage);
    await admission.answered;
  }
  let outcome: SendOutcome = { kind: "retry", reason: "provider_error" };
  const timer = deps.metrics.sendSeconds.startTimer({
    provider: provider.name,
  });
  try {
    outcome = await provider.send(push);
  } catch (error) {
    // Providers return outcomes; a throw is a bug in one, retried like an outage.
    deps.logger.error(
      { err: error, provider: provider.name },
      "provider threw",
    );
  } finally {
    timer();
  }
  deps.metrics.sends.inc({ provider: provider.name, outcome: outcome.kind });
  const outage = lane.pauses.observe(service, outcome, deps.clock());
  return outage === undefined
    ? { push, provider: provider.name, outcome }
    : { push, provider: provider.name, outcome, outage };
}

function notSent(push: Push, provider: string, outage: Outage): PushResult {
  const until = outage.until.toISOString();
  const reason = `${provider} paused until ${until}: ${outage.reason}`;
  return { push, provider, outcome: { kind: "retry", reason }, outage };
}

/**
 * A paused provider is logged as it goes down and as it comes back; refused
 * credentials as an error, for they will not mend themselves.
 */
function logPauseChange(
  logger: Logger,
  provider: string,
  change: PauseChange,
): void {
  switch (change.kind) {
    case "paused": {
      const { service, cause, reason, pauseMs, pauses } = change;
      const fields = { provider, service, cause, reason, pauseMs, pauses };
      if (cause === RetryCause.credentials)
        logger.error(
          fields,
          "provider refused the credentials: its pushes wait until they are fixed",
        );
      else logger.warn(fields, "provider down: its pushes wait for its return");
      break;
    }
    case "resumed":
      logger.info(
        { provider, service: change.service, downMs: change.downMs },
        "provider answers again",
      );
      break;
  }
}
