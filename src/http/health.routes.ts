import { Router } from "express";
import { sql } from "kysely";
import type { Deps } from "../deps.ts";
import { pendingMigrations } from "../db/migrator.ts";
import { AppError, ErrorCode } from "../errors.ts";
import { databaseUnavailable } from "./error-handler.ts";

/** How long a probe waits for the database: probes time out in a few seconds. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Probes and the Prometheus metrics, without the admin token, as orchestrators and
 * scrapers expect: `/livez` answers while the process runs (restart it when it does
 * not); `/readyz` when the database answers and has every migration this code needs
 * (send it traffic only then); `/health` is `/readyz` with the rules version, for
 * load balancers and people. A probe that fails answers 503 with Retry-After.
 */
export function healthRoutes(deps: Deps): Router {
  const router = Router();
  const ready = async () => {
    const pending = await answerSoon(pendingMigrations(deps.db));
    if (pending.length > 0)
      throw new AppError(
        ErrorCode.unavailable,
        503,
        `The database lacks migrations ${pending.join(", ")}: run npm run migrate, or start one process of this version.`,
      );
  };
  router.get("/livez", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    await ready();
    res.json({ status: "ok" });
  });
  router.get("/health", async (_req, res) => {
    await answerSoon(sql`select 1`.execute(deps.db));
    res.json({ status: "ok", rulesVersion: deps.rules.current().version });
  });
  router.get("/metrics", async (_req, res) => {
    const { registry } = deps.metrics;
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}

/** The query's answer, or the database counted unavailable after PROBE_TIMEOUT_MS. */
async function answerSoon<T>(query: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(databaseUnavailable());
    }, PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([query, late]);
  } finally {
    clearTimeout(timer);
  }
}
