/** What the fan-out benchmark's runs share: where the fakes are, timeouts, helpers. */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { StartCommand } from "../scripts/start-command.ts";
import { EXAMPLE_RULES, RULE_ID } from "./fanout-audience.ts";
import type { Arrival, Fakes } from "./fanout-fakes-client.ts";
import { environmentSchema } from "../src/config/environment.schema.ts";

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

/** The parts of a rules file that the benchmarks change. */
export type BenchRules = {
  $schema?: string;
  settings: { quietHours?: unknown; frequencyCap?: unknown };
  rules: { id: string; holdout?: number; [field: string]: unknown }[];
};

/** The rule a broadcast is triggered through the admin API with (bench:fanout-broadcast). */
export const BROADCAST_RULE_ID = "bench-broadcast";

/**
 * examples/rules.json without quiet hours and without the 5% holdout: every saver is
 * sent the sale now, whatever the time of day of the run, so the count is exact. Beside
 * its wishlist rule, the same rule as a broadcast started through the admin API to every
 * profile (a trait audience that every profile matches).
 */
export async function benchRules(): Promise<BenchRules> {
  const rules = JSON.parse(await readFile(EXAMPLE_RULES, "utf8")) as BenchRules;
  delete rules.$schema;
  delete rules.settings.quietHours;
  const sale = rules.rules.find((rule) => rule.id === RULE_ID);
  if (sale === undefined)
    throw new Error(`examples/rules.json has no ${RULE_ID}`);
  sale.holdout = 0;
  rules.rules.push({
    ...sale,
    id: BROADCAST_RULE_ID,
    trigger: "manual",
    audience: { where: 'type = "identify"' },
  });
  return rules;
}

/** The CA, the APNs key and the rules, in a directory of their own for Nudge to read. */
export async function writeFiles(
  dir: string,
  fakes: Fakes,
  rules: BenchRules,
): Promise<RunContext["files"]> {
  const files = {
    ca: join(dir, "ca.pem"),
    apnsKey: join(dir, "apns-key.p8"),
    rules: join(dir, "rules.json"),
  };
  await writeFile(files.ca, fakes.ready.ca);
  await writeFile(files.apnsKey, fakes.ready.apnsKeyP8);
  await writeFile(files.rules, `${JSON.stringify(rules, null, 2)}\n`);
  return files;
}

/** The bundle id Nudge sends as apns-topic. */
export const APNS_TOPIC = "com.example.shop";
/**
 * Streams in flight per provider: Nudge's defaults (APNS_CONCURRENCY, FCM_CONCURRENCY),
 * read from its configuration's schema so that the bare client keeps matching them.
 */
export const LANE_STREAMS = {
  apns: environmentSchema.shape.APNS_CONCURRENCY.parse(undefined),
  fcm: environmentSchema.shape.FCM_CONCURRENCY.parse(undefined),
};
/** Notifications a claim takes at most: Nudge's default (DELIVERY_BATCH_SIZE). */
export const CLAIM_SIZE =
  environmentSchema.shape.DELIVERY_BATCH_SIZE.parse(undefined);
/** Far above what a run takes on a slow machine; a stuck run fails instead of hanging. */
const RUN_TIMEOUT_MS = 3 * 60_000;

/** How long a run to `users` savers may take: three minutes, or 1 ms a push. */
export function runTimeoutMs(users: number): number {
  return Math.max(RUN_TIMEOUT_MS, users);
}

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

/** Rejects when `promise` has not settled within `timeoutMs`. */
export function withTimeout<T>(
  promise: Promise<T>,
  what: string,
  timeoutMs: number,
): Promise<T> {
  return Promise.race([
    promise,
    sleep(timeoutMs, undefined, { ref: false }).then(() => {
      throw new Error(`${what} did not happen within ${String(timeoutMs)} ms`);
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
