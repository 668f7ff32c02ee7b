import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

const TOKEN = "a-long-enough-admin-token";

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

/** The keys named by a ConfigError's problems, in order. */
function badKeys(error: ConfigError): string[] {
  return error.problems.map((problem) => problem.split(":")[0] ?? "");
}

describe("loadConfig: defaults", () => {
  it("when the environment is empty, then every key takes its default", () => {
    expect(loadConfig({})).toMatchObject({
      env: "development",
      host: "0.0.0.0",
      port: 3000,
      logLevel: "info",
      databaseUrl: undefined,
      dataDir: "./data",
      rulesFile: "examples/rules.json",
      adminTokenIsDefault: true,
      segmentSharedSecret: undefined,
      segmentWebhookToken: undefined,
      segmentWriteKeys: [],
      maxBodyBytes: 16 * 1024 * 1024,
      eventRetentionDays: 30,
      notificationRetentionDays: 180,
      trustProxy: false,
    });
  });

  it("when the config is loaded, then it is frozen", () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.segmentWriteKeys)).toBe(true);
  });

  it("when keys are set, then their values are parsed", () => {
    expect(
      loadConfig({
        HOST: "127.0.0.1",
        PORT: "8080",
        LOG_LEVEL: "debug",
        DATABASE_URL: "postgresql://nudge@db/nudge",
        DATA_DIR: "/var/lib/nudge",
        RULES_FILE: "rules/prod.json",
        SEGMENT_SHARED_SECRET: "shh",
        MAX_BODY_BYTES: "2048",
        EVENT_RETENTION_DAYS: "7",
      }),
    ).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      logLevel: "debug",
      databaseUrl: "postgresql://nudge@db/nudge",
      dataDir: "/var/lib/nudge",
      rulesFile: "rules/prod.json",
      segmentSharedSecret: "shh",
      maxBodyBytes: 2048,
      eventRetentionDays: 7,
    });
  });

  it("when keys Nudge does not read are present, then they are ignored", () => {
    expect(() => loadConfig({ PATH: "/usr/bin", HOME: "/root" })).not.toThrow();
  });

  it("when optional secrets are set to the empty string, then they count as unset", () => {
    const config = loadConfig({
      DATABASE_URL: "",
      SEGMENT_SHARED_SECRET: "",
      ADMIN_TOKEN: "",
      RULES_FILE: "",
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.segmentSharedSecret).toBeUndefined();
    expect(config.adminTokenIsDefault).toBe(true);
    expect(config.rulesFile).toBe("examples/rules.json");
  });
});

describe("loadConfig: bad values", () => {
  it("when several keys are bad, then all of them are reported in one ConfigError", () => {
    const error = configErrorOf({
      PORT: "abc",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://x",
      TRUST_PROXY: "yes",
    });
    expect(error.code).toBe("invalid_config");
    expect(badKeys(error).sort()).toEqual(
      ["DATABASE_URL", "LOG_LEVEL", "PORT", "TRUST_PROXY"].sort(),
    );
    for (const key of badKeys(error)) expect(error.message).toContain(key);
  });

  it("when a non-secret value is bad, then the error shows the value received", () => {
    const error = configErrorOf({ LOG_LEVEL: "loud" });
    expect(error.problems).toEqual([expect.stringContaining('(got "loud")')]);
  });

  it.each([
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "80.5"],
    ["MAX_BODY_BYTES", "10"],
    ["EVENT_RETENTION_DAYS", "0"],
    ["NOTIFICATION_RETENTION_DAYS", "0"],
    ["NODE_ENV", "staging"],
  ])("when %s is %j, then it is reported", (key, value) => {
    expect(badKeys(configErrorOf({ [key]: value }))).toEqual([key]);
  });

  it("when production is missing ADMIN_TOKEN and other keys are bad, then all are reported at once", () => {
    const error = configErrorOf({ NODE_ENV: "production", PORT: "abc" });
    expect(badKeys(error).sort()).toEqual(["ADMIN_TOKEN", "PORT"]);
  });
});

describe("loadConfig: empty values", () => {
  it("when a key is set to an empty string, then it counts as unset and takes its default", () => {
    const config = loadConfig({
      HOST: "",
      PORT: "",
      TRUST_PROXY: "",
      ADMIN_TOKEN: "",
    });
    expect(config.host).toBe("0.0.0.0");
    expect(config.port).toBe(3000);
    expect(config.trustProxy).toBe(false);
    expect(config.adminTokenIsDefault).toBe(true);
  });

  it("when production uses the development admin token, then startup is refused", () => {
    const error = configErrorOf({
      NODE_ENV: "production",
      ADMIN_TOKEN: "nudge-dev-admin-token",
    });
    expect(badKeys(error)).toEqual(["ADMIN_TOKEN"]);
  });
});

describe("loadConfig: booleans", () => {
  it.each([
    ["true", true],
    ["1", true],
    ["false", false],
    ["0", false],
  ])("when TRUST_PROXY is %j, then it is %s", (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toBe(expected);
  });

  it.each([["yes"], ["no"], ["on"], ["TRUE"], ["2"]])(
    "when TRUST_PROXY is %j, then it is rejected",
    (value) => {
      const error = configErrorOf({ TRUST_PROXY: value });
      expect(error.problems).toEqual([
        `TRUST_PROXY: expected "true" or "false" (got ${JSON.stringify(value)})`,
      ]);
    },
  );
});

describe("loadConfig: admin token", () => {
  it("when production has no ADMIN_TOKEN, then startup is refused", () => {
    const error = configErrorOf({ NODE_ENV: "production" });
    expect(error.problems).toEqual([
      expect.stringMatching(/^ADMIN_TOKEN: required when NODE_ENV=production/),
    ]);
  });

  it("when production has an empty ADMIN_TOKEN, then startup is refused", () => {
    expect(
      badKeys(configErrorOf({ NODE_ENV: "production", ADMIN_TOKEN: "" })),
    ).toEqual(["ADMIN_TOKEN"]);
  });

  it("when production has an ADMIN_TOKEN, then it is used and not flagged as the default", () => {
    const config = loadConfig({ NODE_ENV: "production", ADMIN_TOKEN: TOKEN });
    expect(config.adminToken).toBe(TOKEN);
    expect(config.adminTokenIsDefault).toBe(false);
  });

  it("when development has no ADMIN_TOKEN, then a default token is used and flagged", () => {
    const config = loadConfig({ NODE_ENV: "development" });
    expect(config.adminTokenIsDefault).toBe(true);
    expect(config.adminToken.length).toBeGreaterThanOrEqual(16);
  });

  it("when development has an ADMIN_TOKEN, then it is used and not flagged", () => {
    const config = loadConfig({ ADMIN_TOKEN: TOKEN });
    expect(config.adminToken).toBe(TOKEN);
    expect(config.adminTokenIsDefault).toBe(false);
  });

  it("when ADMIN_TOKEN is shorter than 16 characters, then it is rejected", () => {
    expect(badKeys(configErrorOf({ ADMIN_TOKEN: "short" }))).toEqual([
      "ADMIN_TOKEN",
    ]);
  });
});

describe("loadConfig: secrets", () => {
  it("when DATABASE_URL is bad, then its value is not in the error", () => {
    const url = "mysql://admin:hunter2@db.internal/shop";
    const error = configErrorOf({ DATABASE_URL: url });
    expect(badKeys(error)).toEqual(["DATABASE_URL"]);
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("db.internal");
    expect(error.problems.join("\n")).not.toContain("hunter2");
  });

  it("when ADMIN_TOKEN is too short, then its value is not in the error", () => {
    const error = configErrorOf({ ADMIN_TOKEN: "s3cr3t-tok" });
    expect(badKeys(error)).toEqual(["ADMIN_TOKEN"]);
    expect(error.message).not.toContain("s3cr3t-tok");
  });

  it("when SEGMENT_WEBHOOK_TOKEN is shorter than 16 characters, then it is rejected without its value", () => {
    const error = configErrorOf({ SEGMENT_WEBHOOK_TOKEN: "hook-tok-15char" });
    expect(badKeys(error)).toEqual(["SEGMENT_WEBHOOK_TOKEN"]);
    expect(error.message).toContain("at least 16 characters");
    expect(error.message).not.toContain("hook-tok-15char");
    expect(
      loadConfig({ SEGMENT_WEBHOOK_TOKEN: "hook-token-16chr" })
        .segmentWebhookToken,
    ).toBe("hook-token-16chr");
  });

  it("when a secret is bad alongside other bad keys, then only the non-secret values are shown", () => {
    const error = configErrorOf({
      DATABASE_URL: "mysql://admin:hunter2@db",
      ADMIN_TOKEN: "tiny-secret",
      LOG_LEVEL: "loud",
    });
    expect(error.message).toContain('"loud"');
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("tiny-secret");
  });

  it("when SEGMENT_WRITE_KEYS is a comma list with spaces and gaps, then it is a trimmed list", () => {
    expect(
      loadConfig({ SEGMENT_WRITE_KEYS: " key-one , key-two,,key-three , " })
        .segmentWriteKeys,
    ).toEqual(["key-one", "key-two", "key-three"]);
  });

  it("when SEGMENT_WRITE_KEYS is empty, then no write key is accepted", () => {
    expect(loadConfig({ SEGMENT_WRITE_KEYS: "" }).segmentWriteKeys).toEqual([]);
  });
});

describe("loadConfig: rules file", () => {
  it.each([["development"], ["test"]])(
    "when NODE_ENV is %s and RULES_FILE is unset, then the example rules are used",
    (env) => {
      expect(loadConfig({ NODE_ENV: env }).rulesFile).toBe(
        "examples/rules.json",
      );
    },
  );

  it("when NODE_ENV is production and RULES_FILE is unset, then no rules file is used", () => {
    expect(
      loadConfig({ NODE_ENV: "production", ADMIN_TOKEN: TOKEN }).rulesFile,
    ).toBeUndefined();
  });

  it("when NODE_ENV is production and RULES_FILE is set, then it is used", () => {
    expect(
      loadConfig({
        NODE_ENV: "production",
        ADMIN_TOKEN: TOKEN,
        RULES_FILE: "/etc/nudge/rules.json",
      }).rulesFile,
    ).toBe("/etc/nudge/rules.json");
  });
});

describe("loadConfig: push providers", () => {
  const apns = {
    APNS_KEY_FILE: "keys/AuthKey.p8",
    APNS_KEY_ID: "KEY1234567",
    APNS_TEAM_ID: "TEAM123456",
    APNS_TOPIC: "com.example.shop",
  };

  it("when no provider key is set, then no provider is configured and delivery has its defaults", () => {
    const config = loadConfig({});
    expect([config.apns, config.fcm, config.webPush]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(config.delivery).toMatchObject({
      enabled: true,
      batchSize: 500,
      maxAttempts: 5,
      leaseMs: 60_000,
      limits: {
        apns: { ratePerSec: undefined, concurrency: 500 },
        fcm: { ratePerSec: undefined, concurrency: 100 },
        webpush: { ratePerSec: undefined, concurrency: 50 },
      },
    });
  });

  it("when the APNs keys are set, then APNs targets the sandbox in development and production in production", () => {
    expect(loadConfig(apns).apns).toMatchObject({
      ...{ keyFile: apns.APNS_KEY_FILE, topic: apns.APNS_TOPIC },
      production: false,
      bothEnvironments: false,
    });
    expect(
      loadConfig({
        ...apns,
        NODE_ENV: "production",
        ADMIN_TOKEN: "a-production-admin-token",
      }).apns?.production,
    ).toBe(true);
    expect(
      loadConfig({ ...apns, APNS_PRODUCTION: "true" }).apns?.production,
    ).toBe(true);
  });

  it("when APNs is redirected, then each environment has its own address", () => {
    expect(
      loadConfig({
        ...apns,
        APNS_BOTH_ENVIRONMENTS: "true",
        APNS_HOST: "relay.internal",
        APNS_PORT: "8443",
        APNS_OTHER_HOST: "sandbox-relay.internal",
        APNS_OTHER_PORT: "9443",
      }).apns,
    ).toMatchObject({
      bothEnvironments: true,
      host: "relay.internal",
      port: 8443,
      otherHost: "sandbox-relay.internal",
      otherPort: 9443,
    });
    expect(
      badKeys(configErrorOf({ ...apns, APNS_OTHER_PORT: "https" })),
    ).toEqual(["APNS_OTHER_PORT"]);
  });

  it("when only some keys of a provider are set, then each missing one is reported", () => {
    expect(
      badKeys(
        configErrorOf({ APNS_KEY_FILE: "k.p8", VAPID_PUBLIC_KEY: "pub" }),
      ),
    ).toEqual([
      "APNS_KEY_ID",
      "APNS_TEAM_ID",
      "APNS_TOPIC",
      "VAPID_PRIVATE_KEY",
      "VAPID_SUBJECT",
    ]);
  });

  it("when FCM has a project but no credentials, or a static token but no project, then startup is refused", () => {
    expect(badKeys(configErrorOf({ FCM_PROJECT_ID: "shop" }))).toEqual([
      "FCM_SERVICE_ACCOUNT_FILE",
    ]);
    expect(badKeys(configErrorOf({ FCM_ACCESS_TOKEN: "ya29.token" }))).toEqual([
      "FCM_PROJECT_ID",
    ]);
  });

  it("when a provider's rate or concurrency is set, then that provider's lane uses it", () => {
    const config = loadConfig({
      FCM_RATE_PER_SEC: "2500",
      FCM_CONCURRENCY: "64",
    });
    expect(config.delivery.limits.fcm).toEqual({
      ratePerSec: 2500,
      concurrency: 64,
    });
  });

  it("when the VAPID private key or FCM token is bad, then its value is not in the error", () => {
    try {
      loadConfig({
        FCM_ACCESS_TOKEN: "secret-token",
        VAPID_PRIVATE_KEY: "secret-key",
      });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain("secret-token");
      expect(String(error)).not.toContain("secret-key");
    }
  });
});
