/**
 * The soak's figures over time: every INTERVAL_SECONDS, what the load saw (events
 * accepted, latency, errors) since the last sample, and how Nudge looks (its RSS and
 * CPU from /proc, its heap, event-loop lag and backlogs from GET /metrics, the pushes
 * the fakes accepted).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import type { Fakes } from "./fanout-fakes-client.ts";
import { procStatusBytes } from "./fanout-run-support.ts";
import type { CpuShares, CpuWatch } from "./soak-cpu.ts";
import type { AnswerListener } from "./load.ts";
import { summarizeLatencies, type LatencySummary } from "./support.ts";

export const INTERVAL_SECONDS = 10;
/** A sample that cannot be read in this time is left out (n/a), not waited for. */
const READ_TIMEOUT_MS = 5_000;
/** Distinct error messages kept for the report, with their counts. */
const ERRORS_KEPT = 10;

export type Interval = {
  /** Seconds since the soak began, at the end of the interval. */
  at: number;
  seconds: number;
  requests: number;
  /** Calls of the requests answered 200 with every call accepted. */
  accepted: number;
  /** Requests answered other than 200, failed, or with a call not accepted. */
  errors: number;
  latency: LatencySummary;
  rssBytes: number | undefined;
  heapUsedBytes: number | undefined;
  /** Pushes the fakes accepted during the interval. */
  pushes: number | undefined;
  /**
   * Nudge's longest event-loop stall (`nudge_nodejs_eventloop_lag_max_seconds`, whose
   * histogram each scrape resets: the soak is the only scraper), in ms.
   */
  loopLagMaxMs: number | undefined;
  /** Cores kept busy by Nudge, its PostgreSQL backends and the rest of the machine. */
  cpu: CpuShares;
  /** `nudge_delivery_due`: notifications due and not yet claimed. */
  deliveryDue: number | undefined;
  /** `nudge_planner_pending_matches`: rule matches not yet planned. */
  pendingMatches: number | undefined;
};

export type Sampler = {
  onAnswer: AnswerListener;
  onAccepted(calls: number): void;
  /**
   * Samples every INTERVAL_SECONDS from now on; the last interval ends when `done`
   * settles, with the last answers. Calls `nudgeGone` if Nudge's process disappears.
   */
  run(seconds: number, done: Promise<unknown>): Promise<void>;
  intervals(): readonly Interval[];
  /** Every answer's latency over the whole soak. */
  overallLatency(): LatencySummary;
  /** Error messages (cut to 160 characters) and how often each was seen. */
  errorMessages(): ReadonlyMap<string, number>;
};

type Target = {
  nudgePid: number;
  nudgeUrl: string;
  fakes: Fakes;
  cpu: CpuWatch;
  nudgeGone(): void;
  /** Hears each interval as it is sampled (progress for the terminal). */
  onSample?(interval: Interval): void;
};

/** What the load saw since the last sample. */
type Window = { latencies: number[]; accepted: number; errors: number };
const emptyWindow = (): Window => ({ latencies: [], accepted: 0, errors: 0 });

/** Counts that only grow, differenced from one sample to the next. */
type Totals = { pushes?: number };

type Reading = {
  totals: Totals;
  cpu: CpuShares;
  rssBytes: number | undefined;
  metrics: Map<string, number>;
};

/** Nudge's process, its metrics and the fakes' count, read side by side. */
async function readNudge(target: Target): Promise<Reading> {
  const [cpu, rssBytes, metrics, pushes] = await Promise.all([
    target.cpu.next(),
    procStatusBytes(target.nudgePid, "VmRSS"),
    readMetrics(target.nudgeUrl),
    withDeadline(target.fakes.counts()),
  ]);
  const accepted =
    pushes === undefined
      ? undefined
      : pushes.apns.accepted + pushes.fcm.accepted;
  return {
    totals: { pushes: accepted },
    cpu,
    rssBytes,
    metrics,
  };
}

const difference = (after?: number, before?: number) =>
  after === undefined || before === undefined ? undefined : after - before;

/** The interval that ends with `reading`, the totals having been `before` at its start. */
function toInterval(
  at: number,
  seconds: number,
  seen: Window,
  reading: Reading,
  before: Totals,
): Interval {
  const { totals, metrics } = reading;
  return {
    at,
    seconds,
    requests: seen.latencies.length,
    accepted: seen.accepted,
    errors: seen.errors,
    latency: summarizeLatencies(seen.latencies),
    rssBytes: reading.rssBytes,
    heapUsedBytes: metrics.get("nudge_nodejs_heap_size_used_bytes"),
    loopLagMaxMs: times1000(
      metrics.get("nudge_nodejs_eventloop_lag_max_seconds"),
    ),
    pushes: difference(totals.pushes, before.pushes),
    cpu: reading.cpu,
    deliveryDue: metrics.get("nudge_delivery_due"),
    pendingMatches: metrics.get("nudge_planner_pending_matches"),
  };
}

/**
 * Calls `sample` at every INTERVAL_SECONDS boundary until `seconds` are over; the last
 * call waits for `done`, so that the last interval holds the last answers. Stops
 * early, with a sample, when `done` settles first.
 */
async function everyInterval(
  seconds: number,
  done: Promise<unknown>,
  sample: (at: number, seconds: number) => Promise<void>,
): Promise<void> {
  const start = performance.now();
  const ended = done.then(
    () => true,
    () => true,
  );
  const count = Math.max(1, Math.ceil(seconds / INTERVAL_SECONDS));
  let last = start;
  for (let k = 1; ; k++) {
    const boundary = start + k * INTERVAL_SECONDS * 1000;
    const untilBoundary = sleep(Math.max(0, boundary - performance.now()));
    const stopped =
      k >= count
        ? await ended
        : await Promise.race([untilBoundary.then(() => false), ended]);
    const now = performance.now();
    await sample((now - start) / 1000, (now - last) / 1000);
    last = now;
    if (stopped) return;
  }
}

export function createSampler(target: Target): Sampler {
  const all: number[] = [];
  const messages = new Map<string, number>();
  const intervals: Interval[] = [];
  let window = emptyWindow();
  let before: Totals = {};

  const sample = async (at: number, seconds: number): Promise<void> => {
    const seen = window;
    window = emptyWindow();
    const reading = await readNudge(target);
    if (reading.rssBytes === undefined) target.nudgeGone();
    const interval = toInterval(at, seconds, seen, reading, before);
    before = { pushes: reading.totals.pushes ?? before.pushes };
    intervals.push(interval);
    target.onSample?.(interval);
  };

  return {
    onAnswer(latencyMs, error) {
      all.push(latencyMs);
      window.latencies.push(latencyMs);
      if (error === undefined) return;
      window.errors++;
      const message = (
        error instanceof Error ? error.message : inspect(error)
      ).slice(0, 160);
      if (messages.has(message) || messages.size < ERRORS_KEPT)
        messages.set(message, (messages.get(message) ?? 0) + 1);
    },
    onAccepted(calls) {
      window.accepted += calls;
    },
    async run(seconds, done) {
      // The totals at the start; the scrape also resets the event-loop lag histogram.
      before = (await readNudge(target)).totals;
      await everyInterval(seconds, done, sample);
    },
    intervals: () => intervals,
    overallLatency: () => summarizeLatencies(all),
    errorMessages: () => messages,
  };
}

const times1000 = (value: number | undefined) =>
  value === undefined ? undefined : value * 1000;

function withDeadline<T>(promise: Promise<T>): Promise<T | undefined> {
  return Promise.race([
    promise.catch(() => undefined),
    sleep(READ_TIMEOUT_MS, undefined, { ref: false }),
  ]);
}

/** Nudge's unlabelled Prometheus samples by name; empty if GET /metrics fails. */
async function readMetrics(nudgeUrl: string): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  try {
    const response = await fetch(`${nudgeUrl}/metrics`, {
      signal: AbortSignal.timeout(READ_TIMEOUT_MS),
    });
    const text = await response.text();
    for (const match of text.matchAll(/^(\w+) (\S+)$/gm)) {
      const [, name = "", value = ""] = match;
      values.set(name, Number(value));
    }
  } catch {
    // Nudge did not answer in time: this sample's gauges are unknown.
  }
  return values;
}
