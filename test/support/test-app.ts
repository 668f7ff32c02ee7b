import { readFileSync } from "node:fs";
import { afterAll, beforeAll } from "vitest";
import { buildApp } from "../../src/app.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import type { Deps } from "../../src/deps.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { createLogger } from "../../src/logger.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";
import { fixedRuleStore } from "../../src/rules/rule-store.ts";
import { createTestDatabase, type TestDatabase } from "./test-database.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";

export const exampleRules: unknown = JSON.parse(
  readFileSync(new URL("../../examples/rules.json", import.meta.url), "utf8"),
);

export type TestApp = {
  baseUrl: string;
  deps: Deps;
  /** Sets the time the app sees as now. */
  setNow(now: Date): void;
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
  options: { env?: Record<string, string>; rules?: unknown } = {},
): Promise<TestApp> {
  const config: Config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ADMIN_TOKEN,
    ...options.env,
  });
  let now: Date | undefined;
  const deps: Deps = {
    config,
    logger: createLogger(config.logLevel),
    db: database.db,
    clock: () => now ?? new Date(),
    rules: fixedRuleStore(
      compileRuleBook(options.rules ?? exampleRules, "test rules"),
    ),
  };
  const http = await startHttpServer(buildApp(deps), 0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${http.port}`;
  return {
    baseUrl,
    deps,
    setNow: (date) => {
      now = date;
    },
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
    close: () => http.stop(),
  };
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
