import { buildApp } from "./app.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { describeDatabase } from "./db/database.ts";
import { closeDeps, createDeps, type Deps } from "./deps.ts";
import { startHttpServer } from "./http/server.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createRetention } from "./retention/retention.ts";
import { RulesFileError } from "./rules/rule-book.ts";
import { createStatsRollup } from "./stats/stats-rollup.ts";
import { createWinnerCheck } from "./stats/auto-winner.service.ts";

/** Process entry: config → deps → HTTP + background work → signals. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const deps = await createDeps(config, logger);
  const background = startBackgroundWork(config, deps);
  const http = await startHttpServer(buildApp(deps), config.port, config.host);
  logger.info(
    {
      port: http.port,
      database: describeDatabase({
        url: config.databaseUrl,
        dataDir: config.dataDir,
      }),
    },
    "nudge listening",
  );
  warnAboutDefaults(config, logger);
  handleSignals(deps, logger, createShutdown(deps, logger, http, background));
}

/** What main starts beside the deps, and so stops itself. */
type BackgroundWork = {
  retention: Stoppable;
  statsRollup: Stoppable;
  winnerCheck: Stoppable;
};

type Stoppable = { stop(): Promise<void> };

function startBackgroundWork(config: Config, deps: Deps): BackgroundWork {
  const retention = createRetention({
    ...deps,
    eventDays: config.eventRetentionDays,
    notificationDays: config.notificationRetentionDays,
  });
  retention.start();
  const statsRollup = createStatsRollup(deps);
  statsRollup.start();
  const winnerCheck = createWinnerCheck(deps);
  winnerCheck.start();
  deps.rules.start();
  deps.planner.start();
  if (config.delivery.enabled) deps.delivery.start();
  return { retention, statsRollup, winnerCheck };
}

/**
 * Runs once, whichever signal comes first: stop accepting requests, stop planning,
 * stop claiming and finish the sends in flight, then close providers and database.
 */
function createShutdown(
  deps: Deps,
  logger: Logger,
  http: Stoppable,
  background: BackgroundWork,
): (signal: string) => void {
  let stopping: Promise<void> | undefined;
  return (signal) => {
    stopping ??= stopInOrder(deps, logger, signal, http, background).catch(
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exitCode = 1;
      },
    );
  };
}

async function stopInOrder(
  deps: Deps,
  logger: Logger,
  signal: string,
  http: Stoppable,
  background: BackgroundWork,
): Promise<void> {
  logger.info({ signal }, "shutting down");
  await http.stop();
  await background.retention.stop();
  await background.statsRollup.stop();
  await background.winnerCheck.stop();
  await deps.planner.stop();
  await deps.delivery.stop();
  await deps.rules.stop();
  await closeDeps(deps);
  logger.info("stopped");
}

function handleSignals(
  deps: Deps,
  logger: Logger,
  stop: (signal: string) => void,
): void {
  process.once("SIGTERM", () => {
    stop("SIGTERM");
  });
  process.once("SIGINT", () => {
    stop("SIGINT");
  });
  // Rules that fail to reload leave the ones in force serving.
  process.on("SIGHUP", () => {
    deps.rules.reload().catch((error: unknown) => {
      logger.error(
        { err: error },
        "rules reload failed: keeping the rules in force",
      );
    });
  });
}

function warnAboutDefaults(config: Config, logger: Logger): void {
  if (config.adminTokenIsDefault) {
    logger.warn(
      { adminToken: config.adminToken },
      "ADMIN_TOKEN is not set: using the development default (refused when NODE_ENV=production)",
    );
  }
  warnAboutWebhookAuth(config, logger);
}

/** Once at start: how far /v1/segment trusts a request that reaches it. */
function warnAboutWebhookAuth(config: Config, logger: Logger): void {
  if (config.segmentWebhookToken !== undefined) return;
  if (config.segmentSharedSecret === undefined) {
    logger.warn(
      "SEGMENT_SHARED_SECRET and SEGMENT_WEBHOOK_TOKEN are not set: /v1/segment accepts requests from anyone",
    );
    return;
  }
  // Segment signs only a batch's first event, and with no timestamp.
  logger.warn(
    "SEGMENT_WEBHOOK_TOKEN is not set: /v1/segment accepts batches on their signature alone, which covers only the first event, so anyone who captured one signed request can append forged events to it. Set SEGMENT_WEBHOOK_TOKEN and send it from Segment (README: Connecting Segment)",
  );
}

try {
  await main();
} catch (error) {
  // Operator mistakes are explained in plain words; anything else keeps its stack.
  if (error instanceof ConfigError || error instanceof RulesFileError) {
    console.error(`nudge: ${error.message}`);
  } else {
    console.error("nudge: failed to start", error);
  }
  process.exit(1);
}
