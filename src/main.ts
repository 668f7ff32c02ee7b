import { buildApp } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { closeDeps, createDeps } from "./deps.ts";
import { startHttpServer } from "./http/server.ts";
import { createLogger } from "./logger.ts";
import { describeDatabase } from "./db/database.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const deps = await createDeps(config, logger);
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
  if (config.adminTokenIsDefault) {
    logger.warn(
      { adminToken: config.adminToken },
      "ADMIN_TOKEN is not set: using the development default (refused when NODE_ENV=production)",
    );
  }
  if (config.segmentSharedSecret === undefined) {
    logger.warn(
      "SEGMENT_SHARED_SECRET is not set: /v1/segment accepts unsigned requests",
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      logger.info({ signal }, "shutting down");
      await http.stop();
      await closeDeps(deps);
      logger.info("stopped");
    })().catch((error: unknown) => {
      logger.error({ err: error }, "shutdown failed");
      process.exitCode = 1;
    });
    return stopping;
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

await main();
