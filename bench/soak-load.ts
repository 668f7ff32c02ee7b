/**
 * The soak's load: the traffic and the sales, two open loops side by side, sampled
 * every interval until both are answered. Stops early when interrupted or when
 * Nudge's process is gone.
 */
import type { ChildServer } from "./child-server.ts";
import type { RunContext } from "./fanout-run-support.ts";
import { createClient, createIngestEvents } from "./ingest-traffic.ts";
import { runOpenLoop } from "./load.ts";
import { watchCpu } from "./soak-cpu.ts";
import { createLedger, type Ledger } from "./soak-ledger.ts";
import type { SoakRun, SoakSettings } from "./soak-report.ts";
import { createSampler, type Interval } from "./soak-sampler.ts";
import {
  requestRate,
  saleSender,
  trafficSender,
  type TrafficOptions,
} from "./soak-traffic.ts";
import { formatNumber } from "./support.ts";

/** Connections for the open loops: enough that requests queue in Nudge, not in the client. */
const CONNECTIONS = 64;
/** The ingest benchmark's sources are streams 0 and 1: a sequence of calls of its own. */
const STREAM = 2;

export type SoakLoad = {
  figures: Pick<SoakRun, "intervals" | "latency" | "errorMessages">;
  ledger: Ledger;
  /** Nudge's process went away during the load. */
  died: boolean;
};

function progressLine(interval: Interval): string {
  const cores = (value: number | undefined) =>
    formatNumber(value ?? Number.NaN, 2);
  const mib = (bytes: number | undefined) =>
    bytes === undefined ? "n/a" : formatNumber(bytes / 2 ** 20, 1);
  return [
    `t=${formatNumber(interval.at)} s:`,
    `${formatNumber(interval.accepted / interval.seconds)} events/s,`,
    `p99 ${formatNumber(interval.latency.p99, 1)} ms,`,
    `${formatNumber(interval.errors)} errors,`,
    `RSS ${mib(interval.rssBytes)} MiB,`,
    `${formatNumber(interval.pushes ?? Number.NaN)} pushes,`,
    `CPU: Nudge ${cores(interval.cpu.nudge)}, PG ${cores(interval.cpu.postgres)}, other ${cores(interval.cpu.other)}`,
  ].join(" ");
}

export async function runSoakLoad(
  nudge: ChildServer,
  context: RunContext,
  settings: SoakSettings,
  databaseName: string,
): Promise<SoakLoad> {
  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  let died = false;
  const sampler = createSampler({
    nudgePid: nudge.pid,
    nudgeUrl: nudge.url,
    fakes: context.fakes,
    cpu: await watchCpu({
      nudgePid: nudge.pid,
      fakesPid: context.fakes.pid,
      serverUrl: settings.databaseUrl,
      databaseName,
    }),
    nudgeGone: () => {
      console.error("Nudge's process is gone: stopping the load");
      died = true;
      stop.abort();
    },
    onSample: (interval) => {
      console.log(progressLine(interval));
    },
  });
  const client = createClient(nudge.url, CONNECTIONS);
  const ledger = createLedger();
  const options: TrafficOptions = {
    client,
    events: createIngestEvents(settings.users, STREAM),
    ledger,
    savers: settings.savers,
    onAccepted: (calls) => {
      sampler.onAccepted(calls);
    },
  };
  const onAnswer = (latencyMs: number, error?: unknown) => {
    sampler.onAnswer(latencyMs, error);
  };
  try {
    const load = Promise.all([
      runOpenLoop({
        send: trafficSender(options),
        ratePerSecond: requestRate(settings.ratePerSecond),
        seconds: settings.seconds,
        signal,
        onAnswer,
      }),
      runOpenLoop({
        send: saleSender(options),
        ratePerSecond: 1 / settings.saleSeconds,
        seconds: settings.seconds,
        signal,
        onAnswer,
      }),
    ]);
    await sampler.run(settings.seconds, load);
    await load;
  } finally {
    await client.close();
  }
  return {
    figures: {
      intervals: sampler.intervals(),
      latency: sampler.overallLatency(),
      errorMessages: sampler.errorMessages(),
    },
    ledger,
    died,
  };
}
