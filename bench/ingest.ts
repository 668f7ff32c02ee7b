/**
 * Ingest benchmark: Nudge (its real process, on a fresh PostgreSQL database) against a
 * bare node:http + pg baseline measured in the same run, under the same load, from
 * this process. Prints a table and rewrites the Ingest section of BENCHMARKS.md.
 *
 *   npm run bench:ingest            (BENCH_SECONDS=3 npm run bench:ingest for a quick look)
 *
 * BENCH_CONCURRENCY lists the numbers of connections /v1/batch is measured with
 * (default "8,32"); the goal compares each server at its best of them.
 *
 * BENCH_NUDGE_NODE_OPTIONS passes Node flags to Nudge's process (e.g. "--cpu-prof
 * --cpu-prof-dir=<dir>" to profile it); such a run leaves BENCHMARKS.md alone.
 */
import { fileURLToPath } from "node:url";
import type { StartCommand } from "../scripts/start-command.ts";
import { startChildServer, type ChildServer } from "./child-server.ts";
import { startCpuMeter } from "./cpu-usage.ts";
import {
  formatIngestReport,
  type IngestFigures,
  type IngestRound,
  type IngestSettings,
  type ScenarioFigures,
} from "./ingest-report.ts";
import {
  SHARED_SECRET,
  WRITE_KEY,
  batchSender,
  createClient,
  createIngestEvents,
  webhookSender,
} from "./ingest-traffic.ts";
import { runClosedLoop, runOpenLoop, type LoadResult } from "./load.ts";
import { startStealMeter } from "./machine-load.ts";
import {
  benchRounds,
  buildNudge,
  createScratchDatabase,
  describeCommand,
  describeMachine,
  envNumber,
  envNumbers,
  nudgeNodeOptions,
  publishReport,
  type ScratchDatabase,
  abortOnInterrupt,
} from "./support.ts";

const SETTING_KEYS = [
  "BENCH_SECONDS",
  "BENCH_WARMUP_SECONDS",
  "BENCH_CONCURRENCY",
  "BENCH_BATCH_SIZE",
  "BENCH_RATE",
  "BENCH_USERS",
  "BENCH_ROUNDS",
] as const;

function readSettings(): IngestSettings {
  return {
    databaseUrl:
      process.env.BENCH_DATABASE_URL ??
      "postgres://postgres@127.0.0.1:5432/postgres",
    seconds: envNumber("BENCH_SECONDS", 10),
    warmupSeconds: envNumber("BENCH_WARMUP_SECONDS", 2),
    connections: envNumbers("BENCH_CONCURRENCY", [8, 32]).map(Math.round),
    batchSize: Math.round(envNumber("BENCH_BATCH_SIZE", 100)),
    ratePerSecond: envNumber("BENCH_RATE", 1000),
    users: Math.round(envNumber("BENCH_USERS", 10_000)),
    rounds: benchRounds(),
  };
}

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Connections for the open loop: enough that requests queue in the server, not in the client. */
const OPEN_LOOP_CONNECTIONS = 64;

/** A server under test and how its process is started. */
type Target = {
  name: "Nudge" | "baseline";
  script: string;
  nodeFlags?: readonly string[];
  env(databaseUrl: string): Record<string, string>;
};

/** Nudge, started as the Docker image starts it, and the baseline. */
const targets = ({ nodeFlags, entry }: StartCommand): readonly Target[] => [
  {
    name: "Nudge",
    script: entry,
    nodeFlags,
    env: (databaseUrl) => ({
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      ADMIN_TOKEN: "bench-admin-token-0123456789",
      SEGMENT_WRITE_KEYS: WRITE_KEY,
      // Signed webhooks, as Segment sends them in production.
      SEGMENT_SHARED_SECRET: SHARED_SECRET,
      RULES_FILE: "examples/rules.json",
      ...nodeOptions(),
    }),
  },
  {
    name: "baseline",
    script: "bench/baseline-server.ts",
    env: (databaseUrl) => ({ DATABASE_URL: databaseUrl }),
  },
];

function nodeOptions(): { NODE_OPTIONS?: string } {
  const options = nudgeNodeOptions();
  return options === undefined ? {} : { NODE_OPTIONS: options };
}

/** One timed run of a scenario: its load figures and the events the server accepted. */
type Run = (seconds: number) => Promise<{ load: LoadResult; accepted: number }>;

/** Warms up, then measures one run together with the CPU it cost the server and Postgres. */
async function measureScenario(
  server: ChildServer,
  database: ScratchDatabase,
  settings: IngestSettings,
  warmupSeconds: number,
  run: Run,
): Promise<ScenarioFigures> {
  await run(warmupSeconds);
  const meter = await startCpuMeter({
    serverPid: server.pid,
    serverUrl: settings.databaseUrl,
    databaseName: database.name,
  });
  const { load, accepted } = await run(settings.seconds);
  return { load, accepted, cpu: await meter.read() };
}

async function measureBatches(
  server: ChildServer,
  database: ScratchDatabase,
  settings: IngestSettings,
  concurrency: number,
  signal: AbortSignal,
): Promise<ScenarioFigures> {
  const client = createClient(server.url, concurrency);
  const events = createIngestEvents(settings.users, 0);
  const run: Run = async (seconds) => {
    const counter = { accepted: 0 };
    const load = await runClosedLoop({
      send: batchSender(client, events, settings.batchSize, counter),
      concurrency,
      seconds,
      // A ceiling far above any plausible rate, so the loop is bounded in count too.
      maxRequests: Math.ceil(seconds * 100_000),
      signal,
    });
    return { load, accepted: counter.accepted };
  };
  try {
    return await measureScenario(
      server,
      database,
      settings,
      settings.warmupSeconds,
      run,
    );
  } finally {
    await client.close();
  }
}

async function measureWebhooks(
  server: ChildServer,
  database: ScratchDatabase,
  settings: IngestSettings,
  signal: AbortSignal,
): Promise<ScenarioFigures> {
  const client = createClient(server.url, OPEN_LOOP_CONNECTIONS);
  const events = createIngestEvents(settings.users, 1);
  const run: Run = async (seconds) => {
    const counter = { accepted: 0 };
    const load = await runOpenLoop({
      send: webhookSender(client, events, counter),
      ratePerSecond: settings.ratePerSecond,
      seconds,
      signal,
    });
    return { load, accepted: counter.accepted };
  };
  try {
    // The batch scenario already warmed the server; this only settles the connections.
    const warmup = Math.min(settings.warmupSeconds, 1);
    return await measureScenario(server, database, settings, warmup, run);
  } finally {
    await client.close();
  }
}

/** Runs both scenarios against one target on a database of its own, and cleans up after. */
async function measureTarget(
  target: Target,
  settings: IngestSettings,
  signal: AbortSignal,
): Promise<IngestFigures> {
  const database = await createScratchDatabase(
    settings.databaseUrl,
    "nudge_bench",
  );
  try {
    const server = await startChildServer({
      name: target.name,
      script: target.script,
      nodeFlags: target.nodeFlags,
      cwd: REPO_ROOT,
      env: target.env(database.url),
    });
    try {
      const measureBatchesWith = (connections: number) => {
        console.log(
          `measuring ${target.name}: /v1/batch, ${String(connections)} connections…`,
        );
        return measureBatches(server, database, settings, connections, signal);
      };
      const [first, ...more] = settings.connections;
      if (first === undefined) throw new Error("BENCH_CONCURRENCY is empty");
      const batch = [await measureBatchesWith(first)];
      console.log(`measuring ${target.name}: /v1/segment…`);
      const webhook = await measureWebhooks(server, database, settings, signal);
      // The other numbers of connections after the webhooks, as before this list
      // grew: the work a larger load leaves behind (the planner catching up, a
      // checkpoint of its WAL) would otherwise fall on the webhooks' latency.
      for (const connections of more)
        batch.push(await measureBatchesWith(connections));
      return { batch, webhook };
    } finally {
      await server.stop();
    }
  } finally {
    await database.drop();
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  // Ctrl-C stops the load early but still stops the servers and drops the databases; a
  // second one exits at once, and the exit handlers kill the servers.
  const interrupted = abortOnInterrupt();
  const servers = targets(buildNudge());
  const machine = await describeMachine(settings.databaseUrl);
  const stolen = await startStealMeter();
  const rounds: IngestRound[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    // Alternating the order keeps a drift of the machine from favouring one side.
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    const figures = new Map<Target["name"], IngestFigures>();
    console.log(`round ${String(round + 1)} of ${String(settings.rounds)}:`);
    for (const target of order) {
      if (interrupted.aborted) break;
      figures.set(
        target.name,
        await measureTarget(target, settings, interrupted),
      );
    }
    const nudge = figures.get("Nudge");
    const baseline = figures.get("baseline");
    if (nudge === undefined || baseline === undefined) break;
    rounds.push({ nudge, baseline });
  }
  if (rounds.length < settings.rounds || interrupted.aborted) {
    console.log("interrupted: BENCHMARKS.md left as it was");
    return;
  }
  const report = formatIngestReport({
    settings,
    machine: { ...machine, stolen: await stolen() },
    date: new Date(),
    command: describeCommand("bench:ingest", SETTING_KEYS),
    rounds,
  });
  if (nudgeNodeOptions() !== undefined) {
    console.log(
      `\n${report.text}\n\nBENCH_NUDGE_NODE_OPTIONS is set: BENCHMARKS.md left as it was`,
    );
    return;
  }
  await publishReport("ingest", "Ingest", report);
}

await main();
