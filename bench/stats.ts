/**
 * Stats benchmark: the latency of `ruleStats` (GET /v1/stats) for one rule over a month
 * of notifications on real PostgreSQL, by grouping and window, beside the floor of any
 * query that reads the rule's rows (a bare count), with EXPLAIN (ANALYZE, BUFFERS) of
 * every statement. Prints the figures and the plans; rewrites the Stats queries
 * section of BENCHMARKS.md.
 *
 *   npm run bench:stats              (BENCH_NOTIFICATIONS=100000 npm run bench:stats for a quick look)
 */
import { sql, type Kysely } from "kysely";
import { openDatabase } from "../src/db/database.ts";
import { migrateToLatest } from "../src/db/migrator.ts";
import type { DB } from "../src/db/schema.ts";
import { compileRuleBook, type RuleBook } from "../src/rules/rule-book.ts";
import { GroupBy, type StatsQuery } from "../src/stats/stats.repository.ts";
import { refreshStats } from "../src/stats/stats-rollup.ts";
import { ruleStats } from "../src/stats/stats.service.ts";
import {
  captureStatements,
  explainStatement,
  type StatementCapture,
} from "./stats-capture.ts";
import { loadStatsData, type DataShape } from "./stats-data.ts";
import { timeHttpStats } from "./stats-http.ts";
import { MEASURED_RULE, STATS_RULES } from "./stats-rules.ts";
import {
  formatPlans,
  formatStatsReport,
  type CaseFigures,
  type FloorFigures,
} from "./stats-report.ts";
import { describeLoadedData } from "./stats-shape.ts";
import { startStealMeter } from "./machine-load.ts";
import {
  adminQuery,
  createScratchDatabase,
  describeCommand,
  describeMachine,
  envNumber,
  publishReport,
  abortOnInterrupt,
} from "./support.ts";

const SETTING_KEYS = [
  "BENCH_NOTIFICATIONS",
  "BENCH_RUNS",
  "BENCH_CASE_SECONDS",
] as const;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const WINDOWS = [7, 30] as const;
const GROUPINGS = [
  undefined,
  GroupBy.variant,
  GroupBy.platform,
  GroupBy.day,
  GroupBy.category,
] as const;
/** Fewer runs than this make no p50 worth the name. */
const MIN_RUNS = 5;
/** The PostgreSQL settings that shape these plans, reported with the figures. */
const SETTINGS = [
  "shared_buffers",
  "work_mem",
  "effective_cache_size",
  "max_parallel_workers_per_gather",
  "random_page_cost",
  "jit",
];

type RunLimits = { max: number; min: number; caseSeconds: number };

/** Windows end mid-hour, as the API's default window (ending now) does. */
const WINDOW_END_BEFORE_DATA_END_MS = 23 * 60_000;

const queryOf = (
  data: DataShape,
  days: number,
  groupBy: GroupBy | undefined,
): StatsQuery => {
  const to = new Date(data.end.getTime() - WINDOW_END_BEFORE_DATA_END_MS);
  return {
    ruleId: MEASURED_RULE,
    from: new Date(to.getTime() - days * DAY_MS),
    to,
    groupBy,
  };
};

/**
 * Marks the window's last whole hour stale, as notifications being sent and opened
 * while the query runs would: every run then recomputes that bucket first.
 */
async function touchLastHour(db: Kysely<DB>, query: StatsQuery) {
  const hour = Math.floor(query.to.getTime() / HOUR_MS) * HOUR_MS - HOUR_MS;
  await sql`insert into notification_stats_stale (rule_id, hour)
    values (${query.ruleId}, ${new Date(hour)})`.execute(db);
}

/**
 * One window and grouping: a warm-up run, whose statements are then explained, and
 * timed runs until the count or the time is up. The groups are checked against the
 * floor's count, so a fast wrong answer cannot pass.
 */
async function measureCase(
  db: Kysely<DB>,
  capture: StatementCapture,
  book: RuleBook,
  query: StatsQuery,
  floor: FloorFigures,
  limits: RunLimits,
): Promise<CaseFigures> {
  await touchLastHour(db, query);
  const warm = await ruleStats(capture.db, book, query);
  const triggered = warm.groups.reduce((sum, g) => sum + g.triggered, 0);
  if (query.groupBy !== GroupBy.platform && triggered !== floor.rows) {
    throw new Error(
      `groupBy ${query.groupBy ?? "none"}: ${triggered} triggered, the rule has ${floor.rows} rows in the window`,
    );
  }
  const warmStatements = capture.take();
  const samples: number[] = [];
  const statements: Record<string, number[]> = {};
  const deadline = performance.now() + limits.caseSeconds * 1000;
  while (
    samples.length < limits.max &&
    (samples.length < limits.min || performance.now() < deadline)
  ) {
    await touchLastHour(db, query);
    const started = performance.now();
    await ruleStats(capture.db, book, query);
    samples.push(performance.now() - started);
    const byKind: Record<string, number> = {};
    for (const s of capture.take())
      byKind[s.kind] = (byKind[s.kind] ?? 0) + s.ms;
    for (const [kind, ms] of Object.entries(byKind))
      (statements[kind] ??= []).push(ms);
  }
  const plans = [];
  for (const statement of warmStatements)
    plans.push(await explainStatement(capture.db, statement));
  return {
    days: floor.days,
    groupBy: query.groupBy,
    samples,
    statements,
    groups: warm.groups.length,
    plans,
  };
}

/** The bare count of the rule's rows in the window, timed as often as the cases. */
async function measureFloor(
  db: Kysely<DB>,
  query: StatsQuery,
  days: number,
  runs: number,
): Promise<FloorFigures> {
  const count = () =>
    sql<{ rows: number }>`
      select count(*)::int as rows from notifications
      where rule_id = ${query.ruleId} and created_at >= ${query.from}
        and created_at < ${query.to}`.execute(db);
  const rows = (await count()).rows[0]?.rows ?? Number.NaN;
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await count();
    samples.push(performance.now() - started);
  }
  return { days, rows, samples };
}

async function readSettings(url: string): Promise<Record<string, string>> {
  const rows = await adminQuery<{ name: string; setting: string }>(
    url,
    "select name, current_setting(name) as setting from pg_settings where name = any($1) order by name",
    [SETTINGS],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}

type Measured = { floors: FloorFigures[]; cases: CaseFigures[] };

/** Every window and grouping, each window after its floor; stops between cases on Ctrl-C. */
async function measureAll(
  db: Kysely<DB>,
  book: RuleBook,
  data: DataShape,
  limits: RunLimits,
  signal: AbortSignal,
): Promise<Measured> {
  const capture = captureStatements(db);
  const measured: Measured = { floors: [], cases: [] };
  for (const days of WINDOWS) {
    const floor = await measureFloor(
      db,
      queryOf(data, days, undefined),
      days,
      limits.max,
    );
    measured.floors.push(floor);
    for (const groupBy of GROUPINGS) {
      signal.throwIfAborted();
      console.log(`${days} days, groupBy ${groupBy ?? "none"}…`);
      const query = queryOf(data, days, groupBy);
      measured.cases.push(
        await measureCase(db, capture, book, query, floor, limits),
      );
    }
  }
  return measured;
}

async function main(): Promise<void> {
  const serverUrl =
    process.env.BENCH_DATABASE_URL ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const notifications = Math.round(envNumber("BENCH_NOTIFICATIONS", 1_000_000));
  const limits: RunLimits = {
    max: Math.round(envNumber("BENCH_RUNS", 20)),
    min: MIN_RUNS,
    caseSeconds: envNumber("BENCH_CASE_SECONDS", 12),
  };
  const data: DataShape = {
    notifications,
    users: Math.max(1_000, Math.round(notifications / 5)),
    days: 30,
    // Windows end at the last full hour, as the API's default window ends now.
    end: new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000),
  };
  // Ctrl-C stops after the case in progress and drops the database; a second one exits.
  const interrupted = abortOnInterrupt();
  const book = compileRuleBook(STATS_RULES, "bench/stats-rules.ts");
  const machine = await describeMachine(serverUrl);
  const stolen = await startStealMeter();
  const database = await createScratchDatabase(serverUrl, "nudge_stats");
  try {
    const db = await openDatabase({ url: database.url, poolSize: 4 });
    try {
      console.log(
        `loading ${notifications.toLocaleString("en-US")} notifications…`,
      );
      const loadStarted = performance.now();
      await migrateToLatest(db);
      await loadStatsData(db, book, data);
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      console.log("building the stats rollup…");
      const rollupStarted = performance.now();
      const rollup = {
        buckets: await refreshStats(db, {}),
        seconds: (performance.now() - rollupStarted) / 1000,
      };
      await adminQuery(database.url, "checkpoint").catch(() => undefined);
      const shape = await describeLoadedData(db);
      const { floors, cases } = await measureAll(
        db,
        book,
        data,
        limits,
        interrupted,
      );
      interrupted.throwIfAborted();
      console.log("GET /v1/stats over HTTP…");
      const httpQuery = {
        ...queryOf(data, 7, GroupBy.variant),
        groupBy: GroupBy.variant,
      };
      const http = await timeHttpStats(
        database.url,
        STATS_RULES,
        httpQuery,
        cases.find((c) => c.days === 7 && c.groupBy === GroupBy.variant),
        () => touchLastHour(db, httpQuery),
      );
      const report = formatStatsReport({
        machine: { ...machine, stolen: await stolen() },
        settings: await readSettings(database.url),
        date: new Date(),
        command: describeCommand("bench:stats", SETTING_KEYS),
        data,
        loadSeconds,
        rollup,
        shape,
        runs: limits,
        cases,
        floors,
        http,
      });
      console.log(`\n${formatPlans(cases)}`);
      await publishReport("stats", "Stats queries", report);
    } finally {
      await db.destroy();
    }
  } catch (error) {
    if (!interrupted.aborted) throw error;
    console.log("interrupted: BENCHMARKS.md left as it was");
  } finally {
    await database.drop();
  }
}

await main();
