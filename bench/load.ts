import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import { summarizeLatencies, type LatencySummary } from "./support.ts";

/** Sends request number `index`; resolves when it succeeded, rejects otherwise. */
export type Send = (index: number) => Promise<void>;

export type LoadResult = {
  requests: number;
  ok: number;
  errors: number;
  /** The first error, to tell a misconfiguration from an overload. */
  firstError: string | undefined;
  /** From the first send to the last answer. */
  seconds: number;
  /** Every request's latency, failed ones included: a timeout is part of the tail. */
  latency: LatencySummary;
};

/** Told of every answer as it comes, failed ones with their error: for figures over time. */
export type AnswerListener = (latencyMs: number, error?: unknown) => void;

type Recorder = {
  record(latencyMs: number, error?: unknown): void;
  result(requests: number, seconds: number): LoadResult;
};

function createRecorder(onAnswer?: AnswerListener): Recorder {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  return {
    record(latencyMs, error) {
      latencies.push(latencyMs);
      onAnswer?.(latencyMs, error);
      if (error === undefined) return;
      errors++;
      firstError ??= error instanceof Error ? error.message : inspect(error);
    },
    result: (requests, seconds) => ({
      requests,
      ok: requests - errors,
      errors,
      firstError,
      seconds,
      latency: summarizeLatencies(latencies),
    }),
  };
}

async function timed(
  send: Send,
  index: number,
  startedAt: number,
  recorder: Recorder,
): Promise<void> {
  try {
    await send(index);
    recorder.record(performance.now() - startedAt);
  } catch (error) {
    recorder.record(performance.now() - startedAt, error);
  }
}

/**
 * Closed loop: `concurrency` senders each wait for an answer before sending again, for
 * `seconds` or `maxRequests` in all, whichever comes first. Measures throughput.
 */
export async function runClosedLoop(options: {
  send: Send;
  concurrency: number;
  seconds: number;
  maxRequests: number;
  signal: AbortSignal;
}): Promise<LoadResult> {
  const recorder = createRecorder();
  const start = performance.now();
  const deadline = start + options.seconds * 1000;
  let issued = 0;
  const sender = async () => {
    while (
      performance.now() < deadline &&
      issued < options.maxRequests &&
      !options.signal.aborted
    ) {
      const index = issued++;
      await timed(options.send, index, performance.now(), recorder);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, sender));
  return recorder.result(issued, (performance.now() - start) / 1000);
}

/** How often the open loop wakes to send what has come due (setTimeout's granularity). */
const TICK_MS = 1;

/**
 * Open loop: request i is due at `start + i / rate` whether or not earlier ones were
 * answered, and its latency counts from that due time, so a server that falls behind
 * pays for the queue it builds (no coordinated omission). Sends exactly
 * `rate × seconds` requests, then waits for the last answers. `onAnswer` hears of
 * each answer as it comes.
 */
export async function runOpenLoop(options: {
  send: Send;
  ratePerSecond: number;
  seconds: number;
  signal: AbortSignal;
  onAnswer?: AnswerListener;
}): Promise<LoadResult> {
  const recorder = createRecorder(options.onAnswer);
  const total = Math.round(options.ratePerSecond * options.seconds);
  const intervalMs = 1000 / options.ratePerSecond;
  const start = performance.now();
  // Only the requests still unanswered: a long run must not keep every one it sent.
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  while (next < total && !options.signal.aborted) {
    const now = performance.now();
    for (; next < total && start + next * intervalMs <= now; next++) {
      const request = timed(
        options.send,
        next,
        start + next * intervalMs,
        recorder,
      ).finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await sleep(TICK_MS);
  }
  await Promise.all(inFlight);
  return recorder.result(next, (performance.now() - start) / 1000);
}
