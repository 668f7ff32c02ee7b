import PQueue from "p-queue";
import type { ProviderLimits } from "../config.ts";
import type { Platform } from "../db/schema.ts";
import type { PushProvider } from "../providers/provider.ts";
import type { ProviderSet } from "../providers/registry.ts";

/** A provider and the queue that holds it to its rate and concurrency. */
export type Lane = {
  provider: PushProvider;
  queue: PQueue;
  backlogLimit: number;
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
): Lanes {
  const byProvider = new Map<PushProvider, Lane>();
  for (const provider of new Set(Object.values(providers))) {
    const { ratePerSec, concurrency } = limits[provider.name] ?? UNLIMITED;
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
    byProvider.set(provider, { provider, queue, backlogLimit });
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
