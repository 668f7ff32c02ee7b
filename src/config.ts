import { z } from "zod";

/** Keys whose values are secrets: never logged, redacted wherever config is printed. */
export const SECRET_KEYS = [
  "DATABASE_URL",
  "ADMIN_TOKEN",
  "SEGMENT_SHARED_SECRET",
  "SEGMENT_WRITE_KEYS",
] as const;

const DEV_ADMIN_TOKEN = "nudge-dev-admin-token";

const booleanString = z
  .enum(["true", "false", "1", "0"], { message: 'expected "true" or "false"' })
  .transform((value) => value === "true" || value === "1");

const commaList = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === "" ? undefined : value));

const environmentSchema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"])
    .default("development"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
      .optional(),
  ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  DATA_DIR: z.string().min(1).default("./data"),
  RULES_FILE: optionalString,
  ADMIN_TOKEN: optionalString.pipe(
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  SEGMENT_SHARED_SECRET: optionalString,
  SEGMENT_WRITE_KEYS: commaList.default([]),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  TRUST_PROXY: booleanString.default(false),
});

/** Every environment key Nudge reads (documented in .env.example). */
export const CONFIG_KEYS = Object.keys(environmentSchema.shape);

export type Config = Readonly<{
  env: "development" | "production" | "test";
  host: string;
  port: number;
  logLevel: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  dataDir: string;
  rulesFile: string | undefined;
  adminToken: string;
  /** True when the admin token is the printed development default. */
  adminTokenIsDefault: boolean;
  segmentSharedSecret: string | undefined;
  segmentWriteKeys: readonly string[];
  maxBodyBytes: number;
  eventRetentionDays: number;
  trustProxy: boolean;
}>;

export class ConfigError extends Error {
  readonly code = "invalid_config";
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

/**
 * Reads and validates the environment once. Every bad key is reported in one
 * ConfigError so an operator fixes them all in one go.
 */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): Config {
  // An empty value means "not set", as in a copied .env.example, so defaults apply.
  const env = Object.fromEntries(
    Object.entries(rawEnv).filter(
      ([, value]) => value !== undefined && value.trim() !== "",
    ),
  );
  const parsed = environmentSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const key = issue.path.join(".");
        const secret = (SECRET_KEYS as readonly string[]).includes(key);
        return `${key}: ${issue.message}${secret ? "" : describeValue(env[key])}`;
      });
  // Checked on the raw values so it is reported together with any other bad key.
  if (
    env.NODE_ENV === "production" &&
    [undefined, DEV_ADMIN_TOKEN].includes(env.ADMIN_TOKEN)
  ) {
    problems.push(
      "ADMIN_TOKEN: required when NODE_ENV=production (at least 16 characters, not the development default)",
    );
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const values = parsed.data;
  const production = values.NODE_ENV === "production";
  return Object.freeze({
    env: values.NODE_ENV,
    host: values.HOST,
    port: values.PORT,
    logLevel: values.LOG_LEVEL,
    databaseUrl: values.DATABASE_URL,
    databasePoolSize: values.DATABASE_POOL_SIZE,
    dataDir: values.DATA_DIR,
    rulesFile:
      values.RULES_FILE ?? (production ? undefined : "examples/rules.json"),
    adminToken: values.ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    adminTokenIsDefault: values.ADMIN_TOKEN === undefined,
    segmentSharedSecret: values.SEGMENT_SHARED_SECRET,
    segmentWriteKeys: Object.freeze([...values.SEGMENT_WRITE_KEYS]),
    maxBodyBytes: values.MAX_BODY_BYTES,
    eventRetentionDays: values.EVENT_RETENTION_DAYS,
    trustProxy: values.TRUST_PROXY,
  });
}

function describeValue(value: string | undefined): string {
  return value === undefined ? " (not set)" : ` (got ${JSON.stringify(value)})`;
}
