/**
 * Sees what Nudge's stats code sends to PostgreSQL without touching it: a Kysely plugin
 * on the benchmark's database handle records each statement's SQL, parameters and the
 * time from its compilation to its result (as the client sees it: pool, network,
 * parsing included), so a query's latency can be split by statement and each statement
 * run again under EXPLAIN.
 */
import {
  CompiledQuery,
  PostgresQueryCompiler,
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from "kysely";
import type { DB } from "../src/db/schema.ts";

/** One statement run by the code under measurement. */
export type CapturedStatement = {
  /** What the statement is, told from its SQL: refresh, counts, holdout or other. */
  kind: string;
  sql: string;
  parameters: readonly unknown[];
  ms: number;
};

export type StatementCapture = {
  /** The database handle to give the code under measurement. */
  db: Kysely<DB>;
  /** The statements finished since the last call, in the order they started. */
  take(): CapturedStatement[];
};

/** The statements of src/stats/stats.repository.ts, told apart by a column they name. */
const KINDS: readonly [string, RegExp][] = [
  [
    "refresh",
    /pg_advisory_xact_lock|notification_stats_stale|^\s*(delete from|insert into) notification_stats_hourly/,
  ],
  ["counts", /as "invalidToken"/],
  ["holdout", /as held/],
];

function kindOf(sql: string): string {
  return KINDS.find(([, pattern]) => pattern.test(sql))?.[0] ?? "other";
}

/** Wraps `db` so that every statement run through the result is recorded. */
export function captureStatements(db: Kysely<DB>): StatementCapture {
  const compiler = new PostgresQueryCompiler();
  const started = new Map<unknown, { at: number; node: RootOperationNode }>();
  let finished: { order: number; statement: CapturedStatement }[] = [];
  let order = 0;
  const plugin: KyselyPlugin = {
    transformQuery({ node, queryId }: PluginTransformQueryArgs) {
      started.set(queryId, { at: performance.now(), node });
      return node;
    },
    transformResult({
      result,
      queryId,
    }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const start = started.get(queryId);
      if (start !== undefined) {
        started.delete(queryId);
        const compiled = compiler.compileQuery(start.node, queryId);
        // Session settings (ruleStats turns JIT off) are not statements to measure.
        if (/^\s*set\b/i.test(compiled.sql)) return Promise.resolve(result);
        finished.push({
          order: start.at + order++ * 1e-9,
          statement: {
            kind: kindOf(compiled.sql),
            sql: compiled.sql,
            parameters: compiled.parameters,
            ms: performance.now() - start.at,
          },
        });
      }
      return Promise.resolve(result);
    },
  };
  return {
    db: db.withPlugin(plugin),
    take() {
      const statements = finished
        .sort((a, b) => a.order - b.order)
        .map((f) => f.statement);
      finished = [];
      return statements;
    },
  };
}

/** A node of an EXPLAIN (FORMAT JSON) plan, with the fields read here. */
type PlanNode = {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Parent Relationship"?: string;
  "Subplan Name"?: string;
  "Actual Total Time": number;
  "Actual Rows": number;
  "Actual Loops": number;
  "Shared Hit Blocks": number;
  "Shared Read Blocks": number;
  "Temp Read Blocks"?: number;
  "Temp Written Blocks"?: number;
  "Heap Fetches"?: number;
  "Workers Launched"?: number;
  Plans?: PlanNode[];
};

/** A plan's totals and its costliest nodes (by time spent in the node itself). */
export type PlanSummary = {
  kind: string;
  executionMs: number;
  /** Time spent compiling the plan's expressions (JIT), part of the execution time. */
  jitMs: number;
  sharedHit: number;
  sharedRead: number;
  tempBlocks: number;
  nodes: { label: string; selfMs: number; rows: number; loops: number }[];
};

function describeNode(node: PlanNode): string {
  const on =
    node["Index Name"] === undefined
      ? (node["Relation Name"] ?? "")
      : `${node["Index Name"]} on ${node["Relation Name"] ?? ""}`;
  const sub =
    node["Subplan Name"] === undefined ? "" : ` [${node["Subplan Name"]}]`;
  const heap =
    node["Heap Fetches"] === undefined
      ? ""
      : `, heap fetches ${node["Heap Fetches"]}`;
  const workers =
    node["Workers Launched"] === undefined
      ? ""
      : `, ${node["Workers Launched"]} workers`;
  return `${node["Node Type"]}${on === "" ? "" : ` ${on}`}${sub}${heap}${workers}`;
}

/** Time in the node itself: its total (per loop × loops) less its children's. */
function flatten(node: PlanNode, out: PlanSummary["nodes"]): number {
  const total = node["Actual Total Time"] * node["Actual Loops"];
  const children = (node.Plans ?? []).reduce(
    (sum, child) => sum + flatten(child, out),
    0,
  );
  out.push({
    label: describeNode(node),
    selfMs: Math.max(0, total - children),
    rows: node["Actual Rows"],
    loops: node["Actual Loops"],
  });
  return total;
}

/** Runs a captured statement again under EXPLAIN (ANALYZE, BUFFERS) and sums its plan up. */
export async function explainStatement(
  db: Kysely<DB>,
  statement: CapturedStatement,
  topNodes = 5,
): Promise<PlanSummary> {
  // With JIT off, as ruleStats runs its statements.
  const { rows } = await db.transaction().execute(async (trx) => {
    await trx.executeQuery(CompiledQuery.raw("set local jit = off"));
    return trx.executeQuery<{ "QUERY PLAN": unknown }>(
      CompiledQuery.raw(
        `explain (analyze, buffers, format json) ${statement.sql}`,
        [...statement.parameters],
      ),
    );
  });
  const [result] = rows[0]?.["QUERY PLAN"] as [
    {
      Plan: PlanNode;
      "Execution Time": number;
      JIT?: { Timing?: { Total?: number } };
    },
  ];
  const nodes: PlanSummary["nodes"] = [];
  flatten(result.Plan, nodes);
  return {
    kind: statement.kind,
    executionMs: result["Execution Time"],
    jitMs: result.JIT?.Timing?.Total ?? 0,
    sharedHit: result.Plan["Shared Hit Blocks"],
    sharedRead: result.Plan["Shared Read Blocks"],
    tempBlocks:
      (result.Plan["Temp Read Blocks"] ?? 0) +
      (result.Plan["Temp Written Blocks"] ?? 0),
    nodes: nodes.sort((a, b) => b.selfMs - a.selfMs).slice(0, topNodes),
  };
}
