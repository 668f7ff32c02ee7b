import { sql } from "kysely";
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
} from "prom-client";
import type { Database } from "./db/database.ts";
import { MatchStatus, NotificationStatus } from "./db/schema.ts";

/** The process's Prometheus metrics, in a registry of its own (tests make several). */
export type Metrics = {
  registry: Registry;
  /** Segment calls by what became of them: accepted, duplicate, rejected. */
  ingestedCalls: Counter<"api" | "result">;
  ingestSeconds: Histogram<"api">;
  /** Accepted calls' warnings by code (see src/ingest/event-warnings.ts). */
  ingestWarnings: Counter<"code">;
  /** Pushes by provider and outcome (sent, retry, invalid_token, permanent). */
  sends: Counter<"provider" | "outcome">;
  sendSeconds: Histogram<"provider">;
};

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "nudge_" });
  return {
    registry,
    ingestedCalls: new Counter({
      name: "nudge_ingested_calls_total",
      help: "Segment calls received, by API (webhook, tracking) and result (accepted, duplicate, rejected)",
      labelNames: ["api", "result"],
      registers: [registry],
    }),
    ingestSeconds: new Histogram({
      name: "nudge_ingest_duration_seconds",
      help: "Time to store a request's calls, until the answer, by API",
      labelNames: ["api"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ingestWarnings: new Counter({
      name: "nudge_ingest_warnings_total",
      help: "Warnings about accepted Segment calls (a device or subscription not used), by code",
      labelNames: ["code"],
      registers: [registry],
    }),
    sends: new Counter({
      name: "nudge_sends_total",
      help: "Pushes sent to providers, by provider and outcome (sent, retry, invalid_token, permanent)",
      labelNames: ["provider", "outcome"],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: "nudge_send_duration_seconds",
      help: "Time from handing a push to its provider to the provider's answer",
      labelNames: ["provider"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** What the queue gauges read, at each scrape. */
type QueueSources = {
  db: Database;
  clock: () => Date;
  /** Pushes queued or in flight per provider in this process. */
  laneDepths: () => Readonly<Record<string, number>>;
};

/**
 * Gauges read when Prometheus scrapes: whether the database answers, the delivery
 * backlog (notifications due and not yet claimed, and how long the oldest has
 * waited), the planning backlog (rule matches not yet expanded: the planner's lag),
 * and each provider's queue in this process. A scrape while the database is away
 * still answers.
 */
export function watchQueues(metrics: Metrics, deps: QueueSources): void {
  const registers = [metrics.registry];
  watchDatabaseUp(registers, deps.db);
  watchBacklog(registers, deps.clock, () => queryDueBacklog(deps), {
    count: "nudge_delivery_due",
    countHelp: "Notifications due and waiting to be claimed",
    age: "nudge_delivery_due_age_seconds",
    ageHelp:
      "How long the oldest due notification has waited past its send time",
  });
  watchBacklog(registers, deps.clock, () => queryPlanningBacklog(deps.db), {
    count: "nudge_planner_pending_matches",
    countHelp: "Rule matches waiting to be planned into notifications",
    age: "nudge_planner_lag_seconds",
    ageHelp: "How long the oldest rule match has waited to be planned",
  });
  watchLaneDepths(registers, deps.laneDepths);
}

/** Rows waiting, and when the oldest of them started to. */
type Backlog = { count: number; oldest: Date | null };

/** While the database is away a backlog is unknown: its gauge keeps its last value. */
const unknownWhileAway = (): undefined => undefined;

function queryDueBacklog({
  db,
  clock,
}: QueueSources): Promise<Backlog | undefined> {
  return sql<Backlog>`
      select count(*)::int as count, min(send_at) as oldest from notifications
      where status = ${NotificationStatus.pending} and send_at <= ${clock()}`
    .execute(db)
    .then(({ rows }) => rows[0], unknownWhileAway);
}

function queryPlanningBacklog(db: Database): Promise<Backlog | undefined> {
  return sql<Backlog>`
      select count(*)::int as count, min(created_at) as oldest from rule_matches
      where status = ${MatchStatus.pending}`
    .execute(db)
    .then(({ rows }) => rows[0], unknownWhileAway);
}

function ageInSeconds(oldest: Date | string | null, clock: () => Date): number {
  return oldest === null
    ? 0
    : Math.max(0, (clock().getTime() - new Date(oldest).getTime()) / 1000);
}

function watchDatabaseUp(registers: Registry[], db: Database): void {
  new Gauge({
    name: "nudge_database_up",
    help: "1 when the database answered this scrape, 0 when it did not",
    registers,
    async collect() {
      this.set(
        await sql`select 1`.execute(db).then(
          () => 1,
          () => 0,
        ),
      );
    },
  });
}

/**
 * A backlog's two gauges: its size, and the age of its oldest row. Each gauge asks on
 * its own: prom-client collects them concurrently.
 */
function watchBacklog(
  registers: Registry[],
  clock: () => Date,
  queryBacklog: () => Promise<Backlog | undefined>,
  names: { count: string; countHelp: string; age: string; ageHelp: string },
): void {
  new Gauge({
    name: names.count,
    help: names.countHelp,
    registers,
    async collect() {
      const backlog = await queryBacklog();
      if (backlog !== undefined) this.set(backlog.count);
    },
  });
  new Gauge({
    name: names.age,
    help: names.ageHelp,
    registers,
    async collect() {
      const backlog = await queryBacklog();
      if (backlog !== undefined) this.set(ageInSeconds(backlog.oldest, clock));
    },
  });
}

function watchLaneDepths(
  registers: Registry[],
  laneDepths: () => Readonly<Record<string, number>>,
): void {
  new Gauge({
    name: "nudge_provider_queue_depth",
    help: "Pushes queued or in flight in this process, by provider",
    labelNames: ["provider"],
    registers,
    collect() {
      for (const [provider, depth] of Object.entries(laneDepths()))
        this.set({ provider }, depth);
    },
  });
}
