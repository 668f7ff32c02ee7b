import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import { buildApp } from "../../src/app.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { wireDeps, type Deps } from "../../src/deps.ts";
import { createLogProvider } from "../../src/providers/log.provider.ts";
import type { ProviderSet } from "../../src/providers/registry.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/logger.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";
import {
  createRuleStore,
  fixedRuleStore,
  type RuleStore,
} from "../../src/rules/rule-store.ts";
import { createTestDatabase, type TestDatabase } from "./test-database.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

export const exampleRulesFile = fileURLToPath(
  new URL("../../examples/rules.json", import.meta.url),
);

export const exampleRules: unknown = JSON.parse(
  readFileSync(exampleRulesFile, "utf8"),
);

export type TestAppOptions = {
  env?: Record<string, string>;
  /** The rules document; the example rules when absent. */
  rules?: unknown;
  /**
   * "fixed" (default): the rules in memory, as given. "database": the real store, which
   * keeps the rules in the test database and seeds them from a rules file, as Nudge does.
   */
  ruleStore?: "fixed" | "database";
  /** For the database store: the RULES_FILE to seed from (default: `rules` written to a temporary file). */
  rulesFile?: string;
  /** The providers delivery sends through (default: a log provider that records lines in `printed`). */
  providers?: ProviderSet;
  /** Where the app's log lines go (default: stdout), at `LOG_LEVEL` (default: silent). */
  logDestination?: { write(line: string): void };
};

export type TestApp = {
  baseUrl: string;
  deps: Deps;
  /** Sets the time the app sees as now. */
  setNow(now: Date): void;
  /** The lines the default log provider printed, one per push. */
  printed: string[];
  /** Sends JSON to the app; `admin: true` adds the admin token. */
  request(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      admin?: boolean;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
};

/**
 * Starts the real HTTP app on an ephemeral port over a test database, with the example
 * rules unless others are given. Environment keys override the test defaults.
 */
export async function startTestApp(
  database: TestDatabase,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const config: Config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ADMIN_TOKEN,
    ...options.env,
  });
  let now: Date | undefined;
  const logger = createLogger(config.logLevel, options.logDestination);
  const { rules, cleanup } = await testRuleStore(database, logger, options);
  const clock = () => now ?? new Date();
  const printed: string[] = [];
  const log = createLogProvider({ write: (line) => printed.push(line) });
  const providers = options.providers ?? { apns: log, fcm: log, webpush: log };
  // Planner and delivery are not started: tests run them when they choose, with
  // deps.planner.drain() and deps.delivery.drain(). Reports to Segment go at once.
  const deps = await wireDeps(
    {
      config,
      logger,
      db: database.db,
      clock,
      rules,
      providers: { byPlatform: providers, close: () => Promise.resolve() },
    },
    { reporterFlushAt: 1 },
  );
  const { reporter } = deps;
  const http = await startHttpServer(buildApp(deps), 0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${http.port}`;
  return {
    baseUrl,
    deps,
    setNow: (date) => {
      now = date;
    },
    printed,
    async request(method, path, { body, admin = false, headers = {} } = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(admin ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {}),
          ...headers,
        },
        body:
          body === undefined
            ? undefined
            : typeof body === "string"
              ? body
              : JSON.stringify(body),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: text === "" ? undefined : JSON.parse(text),
      };
    },
    async close() {
      await http.stop();
      await reporter?.close();
      await rules.stop();
      await cleanup();
    },
  };
}

async function testRuleStore(
  database: TestDatabase,
  logger: Deps["logger"],
  options: TestAppOptions,
): Promise<{ rules: RuleStore; cleanup: () => Promise<void> }> {
  const document = options.rules ?? exampleRules;
  if (options.ruleStore !== "database") {
    return {
      rules: fixedRuleStore(compileRuleBook(document, "test rules")),
      cleanup: () => Promise.resolve(),
    };
  }
  let dir: string | undefined;
  let file = options.rulesFile;
  if (file === undefined) {
    dir = await mkdtemp(join(tmpdir(), "nudge-rules-"));
    file = join(dir, "rules.json");
    await writeFile(file, JSON.stringify(document, null, 2));
  }
  const cleanup = async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
  try {
    return {
      rules: await createRuleStore({ db: database.db, logger, file }),
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * One app over its own database for the calling test file: started before its tests,
 * stopped after them. Read `app` and `database` inside tests and hooks.
 */
export function useTestApp(options: Parameters<typeof startTestApp>[1] = {}): {
  readonly app: TestApp;
  readonly database: TestDatabase;
} {
  let app: TestApp | undefined;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    app = await startTestApp(database, options);
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });
  return {
    get app() {
      if (app === undefined)
        throw new Error("useTestApp: the app starts in beforeAll");
      return app;
    },
    get database() {
      if (database === undefined)
        throw new Error("useTestApp: the database opens in beforeAll");
      return database;
    },
  };
}
