import { Router } from "express";
import { sql } from "kysely";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";

/**
 * Liveness and readiness (200 when the database answers, 503 otherwise) and the
 * Prometheus metrics, both without the admin token, as probes and scrapers expect.
 */
export function healthRoutes(deps: Deps): Router {
  const router = Router();
  router.get("/health", async (_req, res) => {
    try {
      await sql`select 1`.execute(deps.db);
    } catch (error) {
      deps.logger.warn({ err: error }, "health check failed");
      throw new AppError(
        ErrorCode.unavailable,
        503,
        "The database does not answer.",
      );
    }
    res.json({ status: "ok", rulesVersion: deps.rules.current().version });
  });
  router.get("/metrics", async (_req, res) => {
    const { registry } = deps.metrics;
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
