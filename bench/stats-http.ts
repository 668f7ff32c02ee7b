/**
 * The stats endpoint over HTTP: a freshly started Nudge (as the Docker image runs it) on the
 * benchmark's database, with delivery off so that nothing it does changes the rows.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GroupBy, StatsQuery } from "../src/stats/stats.repository.ts";
import { startChildServer } from "./child-server.ts";
import type { CaseFigures, HttpFigures } from "./stats-report.ts";
import { buildNudge, percentile } from "./support.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const ADMIN_TOKEN = "bench-admin-token-0123456789";
const TIMED_REQUESTS = 5;

/**
 * One warm-up request, then TIMED_REQUESTS timed ones, one after the other on a
 * keep-alive connection, each after `prepare` (not timed), as the in-process runs;
 * each must answer 200 with the groups ruleStats gave.
 */
export async function timeHttpStats(
  databaseUrl: string,
  rules: unknown,
  query: StatsQuery & { groupBy: GroupBy },
  inProcess: CaseFigures | undefined,
  prepare: () => Promise<void>,
): Promise<HttpFigures> {
  const dir = await mkdtemp(join(tmpdir(), "nudge-stats-"));
  try {
    const rulesFile = join(dir, "rules.json");
    await writeFile(rulesFile, JSON.stringify(rules));
    const { entry, nodeFlags } = buildNudge();
    const nudge = await startChildServer({
      name: "nudge",
      script: entry,
      nodeFlags,
      cwd: REPO_ROOT,
      env: {
        NODE_ENV: "production",
        LOG_LEVEL: "warn",
        ADMIN_TOKEN,
        DATABASE_URL: databaseUrl,
        RULES_FILE: rulesFile,
        DELIVERY_ENABLED: "false",
        // The data is up to 30 days old: the retention sweep must leave it alone.
        EVENT_RETENTION_DAYS: "3650",
        NOTIFICATION_RETENTION_DAYS: "3650",
      },
      startTimeoutMs: 60_000,
    });
    try {
      const url = new URL("/v1/stats", nudge.url);
      url.searchParams.set("ruleId", query.ruleId ?? "");
      url.searchParams.set("from", query.from.toISOString());
      url.searchParams.set("to", query.to.toISOString());
      url.searchParams.set("groupBy", query.groupBy);
      const request = async () => {
        await prepare();
        const started = performance.now();
        const response = await fetch(url, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const body = (await response.json()) as { groups?: unknown[] };
        if (
          response.status !== 200 ||
          body.groups?.length !== inProcess?.groups
        ) {
          throw new Error(
            `GET /v1/stats answered ${response.status}: ${JSON.stringify(body).slice(0, 200)}`,
          );
        }
        return performance.now() - started;
      };
      await request();
      const samples: number[] = [];
      for (let i = 0; i < TIMED_REQUESTS; i++) samples.push(await request());
      const inProcessSamples = [...(inProcess?.samples ?? [])].sort(
        (a, b) => a - b,
      );
      return {
        days: Math.round(
          (query.to.getTime() - query.from.getTime()) / 86_400_000,
        ),
        groupBy: query.groupBy,
        samples,
        inProcessP50: percentile(inProcessSamples, 0.5),
      };
    } finally {
      await nudge.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
