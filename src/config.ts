import { z } from "zod";

/** Keys whose values are secrets: never logged, redacted wherever config is printed. */
export const SECRET_KEYS = [
  "DATABASE_URL",
  "ADMIN_TOKEN",
  "SEGMENT_SHARED_SECRET",
  "SEGMENT_WEBHOOK_TOKEN",
  "SEGMENT_WRITE_KEYS",
  "FCM_ACCESS_TOKEN",
  "VAPID_PRIVATE_KEY",
  "SEGMENT_OUTBOUND_WRITE_KEY",
] as const;

const DEV_ADMIN_TOKEN = "nudge-dev-admin-token";

/**
 * The webhook's body limit. Segment's Actions webhook batches up to 4,000 events, and
 * analytics.js and mobile calls are about 1.3 KB each: 5.2 MB. 16 MiB leaves room for
 * calls three times that size (README, "Connecting Segment", has what it costs).
 */
const DEFAULT_WEBHOOK_MAX_BYTES = 16 * 1024 * 1024;

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

const positiveInt = (fallback: number) =>
  z.coerce.number().int().min(1).default(fallback);
const optionalRate = z.coerce.number().positive().optional();

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
  DATABASE_PREPARED_STATEMENTS: booleanString.default(true),
  DATA_DIR: z.string().min(1).default("./data"),
  RULES_FILE: optionalString,
  ADMIN_TOKEN: optionalString.pipe(
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  SEGMENT_SHARED_SECRET: optionalString,
  SEGMENT_WEBHOOK_TOKEN: optionalString.pipe(
    z.string().min(16, "must be at least 16 characters").optional(),
  ),
  SEGMENT_WRITE_KEYS: commaList.default([]),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(DEFAULT_WEBHOOK_MAX_BYTES),
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  NOTIFICATION_RETENTION_DAYS: z.coerce.number().int().min(1).default(180),
  TRUST_PROXY: booleanString.default(false),

  DELIVERY_ENABLED: booleanString.default(true),
  DELIVERY_BATCH_SIZE: positiveInt(500),
  DELIVERY_MAX_ATTEMPTS: positiveInt(5),
  DELIVERY_LEASE_SECONDS: positiveInt(60),
  DELIVERY_RETRY_BASE_SECONDS: z.coerce.number().positive().default(10),
  DELIVERY_RETRY_MAX_SECONDS: z.coerce.number().positive().default(3600),

  APNS_KEY_FILE: optionalString,
  APNS_KEY_ID: optionalString,
  APNS_TEAM_ID: optionalString,
  APNS_TOPIC: optionalString,
  APNS_PRODUCTION: booleanString.optional(),
  APNS_BOTH_ENVIRONMENTS: booleanString.default(false),
  APNS_HOST: optionalString,
  APNS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  APNS_OTHER_HOST: optionalString,
  APNS_OTHER_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  APNS_RATE_PER_SEC: optionalRate,
  APNS_CONCURRENCY: positiveInt(500),

  FCM_SERVICE_ACCOUNT_FILE: optionalString,
  FCM_PROJECT_ID: optionalString,
  FCM_BASE_URL: z.url().default("https://fcm.googleapis.com"),
  FCM_ACCESS_TOKEN: optionalString,
  FCM_RATE_PER_SEC: optionalRate,
  FCM_CONCURRENCY: positiveInt(100),

  VAPID_PUBLIC_KEY: optionalString,
  VAPID_PRIVATE_KEY: optionalString,
  VAPID_SUBJECT: optionalString,
  WEBPUSH_RATE_PER_SEC: optionalRate,
  WEBPUSH_CONCURRENCY: positiveInt(50),

  SEGMENT_OUTBOUND_WRITE_KEY: optionalString,
  SEGMENT_OUTBOUND_HOST: z.url().default("https://api.segment.io"),
});

type Environment = z.output<typeof environmentSchema>;

/** Every environment key Nudge reads (documented in .env.example). */
export const CONFIG_KEYS = Object.keys(environmentSchema.shape);

export type Config = Readonly<{
  env: "development" | "production" | "test";
  host: string;
  port: number;
  logLevel: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  databasePreparedStatements: boolean;
  dataDir: string;
  rulesFile: string | undefined;
  adminToken: string;
  /** True when the admin token is the printed development default. */
  adminTokenIsDefault: boolean;
  segmentSharedSecret: string | undefined;
  /** A token every /v1/segment request must carry (Bearer or Basic), when set. */
  segmentWebhookToken: string | undefined;
  segmentWriteKeys: readonly string[];
  /** The body limit of /v1/segment (the tracking API has Segment's own limits). */
  maxBodyBytes: number;
  eventRetentionDays: number;
  /** Notifications and their deliveries are deleted after this; their stats stay. */
  notificationRetentionDays: number;
  trustProxy: boolean;
  delivery: DeliveryConfig;
  apns: ApnsConfig | undefined;
  fcm: FcmConfig | undefined;
  webPush: WebPushConfig | undefined;
  /** Where outcomes are reported back to Segment; undefined: they are not. */
  segmentOutbound: Readonly<{ writeKey: string; host: string }> | undefined;
}>;

export type ProviderLimits = Readonly<{
  /** Sends started per second by this process; undefined: no limit. */
  ratePerSec: number | undefined;
  /** Sends in flight at once in this process. */
  concurrency: number;
}>;

export type DeliveryConfig = Readonly<{
  enabled: boolean;
  batchSize: number;
  maxAttempts: number;
  leaseMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  limits: Readonly<Record<"apns" | "fcm" | "webpush", ProviderLimits>>;
}>;

export type ApnsConfig = Readonly<{
  keyFile: string;
  keyId: string;
  teamId: string;
  topic: string;
  production: boolean;
  bothEnvironments: boolean;
  /** Another address for the environment of `production`. */
  host: string | undefined;
  port: number | undefined;
  /** Another address for the other environment, tried when `bothEnvironments`. */
  otherHost: string | undefined;
  otherPort: number | undefined;
}>;

export type FcmConfig = Readonly<{
  projectId: string | undefined;
  serviceAccountFile: string | undefined;
  accessToken: string | undefined;
  baseUrl: string;
}>;

export type WebPushConfig = Readonly<{
  publicKey: string;
  privateKey: string;
  subject: string;
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
  problems.push(...incompleteProviders(env));
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
    databasePreparedStatements: values.DATABASE_PREPARED_STATEMENTS,
    dataDir: values.DATA_DIR,
    rulesFile:
      values.RULES_FILE ?? (production ? undefined : "examples/rules.json"),
    adminToken: values.ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    adminTokenIsDefault: values.ADMIN_TOKEN === undefined,
    segmentSharedSecret: values.SEGMENT_SHARED_SECRET,
    segmentWebhookToken: values.SEGMENT_WEBHOOK_TOKEN,
    segmentWriteKeys: Object.freeze([...values.SEGMENT_WRITE_KEYS]),
    maxBodyBytes: values.MAX_BODY_BYTES,
    eventRetentionDays: values.EVENT_RETENTION_DAYS,
    notificationRetentionDays: values.NOTIFICATION_RETENTION_DAYS,
    trustProxy: values.TRUST_PROXY,
    delivery: deliveryConfig(values),
    segmentOutbound:
      values.SEGMENT_OUTBOUND_WRITE_KEY === undefined
        ? undefined
        : Object.freeze({
            writeKey: values.SEGMENT_OUTBOUND_WRITE_KEY,
            host: values.SEGMENT_OUTBOUND_HOST,
          }),
    ...providerConfigs(values, production),
  });
}

function deliveryConfig(values: Environment): DeliveryConfig {
  return Object.freeze({
    enabled: values.DELIVERY_ENABLED,
    batchSize: values.DELIVERY_BATCH_SIZE,
    maxAttempts: values.DELIVERY_MAX_ATTEMPTS,
    leaseMs: values.DELIVERY_LEASE_SECONDS * 1000,
    retryBaseMs: values.DELIVERY_RETRY_BASE_SECONDS * 1000,
    retryMaxMs: values.DELIVERY_RETRY_MAX_SECONDS * 1000,
    limits: Object.freeze({
      apns: {
        ratePerSec: values.APNS_RATE_PER_SEC,
        concurrency: values.APNS_CONCURRENCY,
      },
      fcm: {
        ratePerSec: values.FCM_RATE_PER_SEC,
        concurrency: values.FCM_CONCURRENCY,
      },
      webpush: {
        ratePerSec: values.WEBPUSH_RATE_PER_SEC,
        concurrency: values.WEBPUSH_CONCURRENCY,
      },
    }),
  });
}

function providerConfigs(
  values: Environment,
  production: boolean,
): Pick<Config, "apns" | "fcm" | "webPush"> {
  const { APNS_KEY_FILE, APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC } = values;
  const { VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT } = values;
  const fcmSet =
    values.FCM_PROJECT_ID !== undefined ||
    values.FCM_SERVICE_ACCOUNT_FILE !== undefined;
  return {
    apns:
      APNS_KEY_FILE && APNS_KEY_ID && APNS_TEAM_ID && APNS_TOPIC
        ? Object.freeze({
            keyFile: APNS_KEY_FILE,
            keyId: APNS_KEY_ID,
            teamId: APNS_TEAM_ID,
            topic: APNS_TOPIC,
            production: values.APNS_PRODUCTION ?? production,
            bothEnvironments: values.APNS_BOTH_ENVIRONMENTS,
            host: values.APNS_HOST,
            port: values.APNS_PORT,
            otherHost: values.APNS_OTHER_HOST,
            otherPort: values.APNS_OTHER_PORT,
          })
        : undefined,
    fcm: fcmSet
      ? Object.freeze({
          projectId: values.FCM_PROJECT_ID,
          serviceAccountFile: values.FCM_SERVICE_ACCOUNT_FILE,
          accessToken: values.FCM_ACCESS_TOKEN,
          baseUrl: values.FCM_BASE_URL,
        })
      : undefined,
    webPush:
      VAPID_PUBLIC_KEY && VAPID_PRIVATE_KEY && VAPID_SUBJECT
        ? Object.freeze({
            publicKey: VAPID_PUBLIC_KEY,
            privateKey: VAPID_PRIVATE_KEY,
            subject: VAPID_SUBJECT,
          })
        : undefined,
  };
}

/** A provider is configured by all of its keys or none: half a set is a mistake. */
function incompleteProviders(
  env: Record<string, string | undefined>,
): string[] {
  const groups: Record<string, readonly string[]> = {
    APNs: ["APNS_KEY_FILE", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"],
    "Web Push": ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"],
  };
  const problems: string[] = [];
  for (const [provider, keys] of Object.entries(groups)) {
    const missing = keys.filter((key) => env[key] === undefined);
    if (missing.length > 0 && missing.length < keys.length) {
      for (const key of missing)
        problems.push(
          `${key}: required to use ${provider} (${keys.join(", ")} go together)`,
        );
    }
  }
  const fcm =
    env.FCM_PROJECT_ID !== undefined ||
    env.FCM_SERVICE_ACCOUNT_FILE !== undefined;
  if (
    fcm &&
    env.FCM_SERVICE_ACCOUNT_FILE === undefined &&
    env.FCM_ACCESS_TOKEN === undefined
  ) {
    problems.push(
      "FCM_SERVICE_ACCOUNT_FILE: required to use FCM (or FCM_ACCESS_TOKEN for a static token)",
    );
  }
  if (
    env.FCM_SERVICE_ACCOUNT_FILE === undefined &&
    env.FCM_ACCESS_TOKEN !== undefined &&
    env.FCM_PROJECT_ID === undefined
  ) {
    problems.push("FCM_PROJECT_ID: required with FCM_ACCESS_TOKEN");
  }
  return problems;
}

function describeValue(value: string | undefined): string {
  return value === undefined ? " (not set)" : ` (got ${JSON.stringify(value)})`;
}
