import { z } from "zod";

/*
 * The environment Nudge reads, as a zod schema: each key's type, bounds and default.
 * config.ts parses process.env with it once and builds the typed Config from the result.
 */

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

export const environmentSchema = z.object({
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

/** The environment after parsing: defaults applied, numbers and booleans converted. */
export type Environment = z.output<typeof environmentSchema>;

/** Every environment key Nudge reads (documented in .env.example). */
export const CONFIG_KEYS = Object.keys(environmentSchema.shape);
