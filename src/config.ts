import {
  CONFIG_KEYS,
  environmentSchema,
  SECRET_KEYS,
  type Environment,
} from "./config/environment.schema.ts";
import {
  deliveryConfig,
  type DeliveryConfig,
} from "./config/delivery-config.ts";
import {
  incompleteProviders,
  providerConfigs,
  type ApnsConfig,
  type FcmConfig,
  type WebPushConfig,
} from "./config/provider-config.ts";

/*
 * The only reader of process.env: it parses the environment once with the schema in
 * config/environment.schema.ts, reports every bad key together, and assembles the
 * frozen Config the rest of Nudge imports (its delivery and provider parts are built
 * in config/).
 */

export { CONFIG_KEYS, SECRET_KEYS };
export type {
  DeliveryConfig,
  ProviderLimits,
} from "./config/delivery-config.ts";
export type {
  ApnsConfig,
  FcmConfig,
  WebPushConfig,
} from "./config/provider-config.ts";

const DEV_ADMIN_TOKEN = "nudge-dev-admin-token";

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
  // Checked on the raw values so they are reported together with any other bad key.
  problems.push(...crossKeyProblems(env));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return buildConfig(parsed.data);
}

/** What no single key's schema can see: keys that are required together or by others. */
function crossKeyProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  if (
    env.NODE_ENV === "production" &&
    [undefined, DEV_ADMIN_TOKEN].includes(env.ADMIN_TOKEN)
  ) {
    problems.push(
      "ADMIN_TOKEN: required when NODE_ENV=production (at least 16 characters, not the development default)",
    );
  }
  problems.push(...incompleteProviders(env));
  return problems;
}

function buildConfig(values: Environment): Config {
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

function describeValue(value: string | undefined): string {
  return value === undefined ? " (not set)" : ` (got ${JSON.stringify(value)})`;
}
