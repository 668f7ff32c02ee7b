import { Router } from "express";
import { sql } from "kysely";
import type { Deps } from "../deps.ts";
import { AppError, ErrorCode } from "../errors.ts";

/** Liveness and readiness: 200 when the database answers, 503 otherwise. */
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
  return router;
}
