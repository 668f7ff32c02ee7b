/** What the fan-out benchmark's runs share: where the fakes are, timeouts, helpers. */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { StartCommand } from "../scripts/start-command.ts";
import type { Arrival, Fakes } from "./fanout-fakes-client.ts";

/** Where a run finds the fakes and the files Nudge is configured with. */
export type RunContext = {
  repoRoot: string;
  /** How Nudge is started: as the Docker image starts it. */
  nudge: StartCommand;
  serverUrl: string;
  fakes: Fakes;
  files: { ca: string; apnsKey: string; rules: string };
  /** Node flags for Nudge (profiling), passed through NODE_OPTIONS. */
  nudgeNodeOptions: string | undefined;
  signal: AbortSignal;
};

/** The bundle id Nudge sends as apns-topic. */
export const APNS_TOPIC = "com.example.shop";
/** Streams in flight per provider: Nudge's defaults (APNS_CONCURRENCY, FCM_CONCURRENCY). */
export const LANE_STREAMS = { apns: 500, fcm: 200 } as const;
/** Far above what a run takes on a slow machine; a stuck run fails instead of hanging. */
export const RUN_TIMEOUT_MS = 3 * 60_000;

/** Even users have an iPhone, odd ones an Android phone (bench/fanout-audience.ts). */
export function pushesOf(users: number): { apns: number; fcm: number } {
  const apns = Math.floor(users / 2);
  return { apns, fcm: users - apns };
}

/** Arrival times at both fakes, as the fakes report them. */
export type Arrivals = { apns: Arrival; fcm: Arrival };

/** A figure of /proc/<pid>/status in bytes (VmRSS, VmHWM: the peak), if readable. */
export async function procStatusBytes(
  pid: number,
  field: "VmRSS" | "VmHWM",
): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${String(pid)}/status`, "utf8");
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** Rejects when `promise` has not settled within RUN_TIMEOUT_MS. */
export function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    promise,
    sleep(RUN_TIMEOUT_MS, undefined, { ref: false }).then(() => {
      throw new Error(`${what} did not happen within ${RUN_TIMEOUT_MS} ms`);
    }),
  ]);
}

/** The first push accepted by either fake (epoch ms). */
export function firstOf(arrival: Arrivals): number {
  const times = [arrival.apns.first, arrival.fcm.first].filter(
    (t) => t !== undefined,
  );
  return Math.min(...times);
}

/** The last push accepted by either fake (epoch ms). */
export function lastOf(arrival: Arrivals): number {
  const times = [arrival.apns.last, arrival.fcm.last].filter(
    (t) => t !== undefined,
  );
  return Math.max(...times);
}

/** after − before, or undefined when either is unknown. */
export function difference(
  after: number | undefined,
  before: number | undefined,
): number | undefined {
  return after === undefined || before === undefined
    ? undefined
    : after - before;
}

/** What is left of `total` after `parts`; undefined when any is unknown. */
export function rest(
  total: number | undefined,
  parts: readonly (number | undefined)[],
): number | undefined {
  if (total === undefined || parts.some((p) => p === undefined))
    return undefined;
  return Math.max(
    0,
    parts.reduce<number>((left, p) => left - (p ?? 0), total),
  );
}
