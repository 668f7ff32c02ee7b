import express, { type Express } from "express";
import type { Deps } from "./deps.ts";
import { requireAdminToken } from "./http/auth.middleware.ts";
import { createErrorHandler, notFound } from "./http/error-handler.ts";
import { dashboardRoutes } from "./http/dashboard.routes.ts";
import { healthRoutes } from "./http/health.routes.ts";
import { notificationsRoutes } from "./http/notifications.routes.ts";
import { openApiRoutes } from "./http/openapi.ts";
import { rulesRoutes } from "./http/rules.routes.ts";
import { ruleRunsRoutes } from "./http/rule-runs.routes.ts";
import { matchesRoutes } from "./http/matches.routes.ts";
import { segmentRoutes } from "./http/segment.routes.ts";
import { statsRoutes } from "./http/stats.routes.ts";
import { storableBody, storableUrl } from "./http/storable-input.ts";
import { usersRoutes } from "./http/users.routes.ts";

/** Path prefixes of the admin API: everything below them needs the admin token. */
const ADMIN_PATHS = [
  "/v1/users",
  "/v1/rules",
  "/v1/matches",
  "/v1/notifications",
  "/v1/stats",
];

/**
 * Admin API bodies: a rules document, a device, preferences. Far below this, and apart
 * from MAX_BODY_BYTES, which is sized for Segment's largest webhook batches.
 */
const ADMIN_MAX_BODY_BYTES = 1024 * 1024;

/** The HTTP application, without listening: tests and main.ts both start it. */
export function buildApp(deps: Deps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", deps.config.trustProxy);
  app.use(storableUrl);

  app.use(healthRoutes(deps));
  app.use(dashboardRoutes());
  app.use(segmentRoutes(deps));
  app.use(openApiRoutes());

  app.use(
    ADMIN_PATHS,
    requireAdminToken(deps.config.adminToken),
    // JSON whatever the Content-Type: curl -d sends a form type, and a body left
    // unread would let a change be answered 200 and dropped.
    express.json({ limit: ADMIN_MAX_BODY_BYTES, type: () => true }),
    storableBody,
  );
  app.use(usersRoutes(deps));
  app.use(rulesRoutes(deps));
  app.use(ruleRunsRoutes(deps));
  app.use(matchesRoutes(deps));
  app.use(notificationsRoutes(deps));
  app.use(statsRoutes(deps));

  app.use(notFound);
  app.use(createErrorHandler(deps.logger));
  return app;
}
