import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config.ts";
import { Platform } from "../vocabulary.ts";
import type { Logger } from "../logger.ts";
import type { FcmServiceAccount } from "./fcm.provider.ts";
import { createLogProvider } from "./log.provider.ts";
import type { PushProvider } from "./provider.ts";

/** The provider that sends each platform's pushes (the log provider may serve several). */
export type ProviderSet = Readonly<Record<Platform, PushProvider>>;

export type Providers = {
  byPlatform: ProviderSet;
  /** Closes every provider's connections. */
  close(): Promise<void>;
};

/**
 * Creates one client per configured provider. With none configured, every platform
 * goes to the log provider, so a demo shows its pushes without credentials; with some
 * configured, the others' pushes are printed too, and a warning says so at startup.
 */
export async function createProviders(
  config: Config,
  logger: Logger,
): Promise<Providers> {
  const created: PushProvider[] = [];
  try {
    const configured: Partial<Record<Platform, PushProvider>> = {};
    for (const platform of Object.values(Platform)) {
      const provider = await createConfigured[platform](config);
      if (provider === undefined) continue;
      created.push(provider);
      configured[platform] = provider;
    }
    const missing = Object.values(Platform).filter(
      (platform) => configured[platform] === undefined,
    );
    const log = missing.length > 0 ? createLogProvider() : undefined;
    if (log !== undefined) {
      created.push(log);
      logger.warn(
        { platforms: missing },
        "no push provider configured for these platforms: their pushes are printed, not sent",
      );
    }
    const byPlatform = Object.fromEntries(
      Object.values(Platform).map((p) => [p, configured[p] ?? log]),
    ) as ProviderSet;
    return {
      byPlatform,
      close: () => closeAll(created),
    };
  } catch (error) {
    void closeAll(created);
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([
      `push provider: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
}

/**
 * Each platform's provider when its settings are given. A provider's module, and the
 * push library behind it, is imported only then: they are tens of MiB of resident
 * memory that a deployment without the platform would carry for nothing.
 */
const createConfigured: Readonly<
  Record<Platform, (config: Config) => Promise<PushProvider | undefined>>
> = {
  async apns({ apns }) {
    if (apns === undefined) return undefined;
    const { createApnsProvider } = await import("./apns.provider.ts");
    return createApnsProvider({
      key: apns.keyFile,
      keyId: apns.keyId,
      teamId: apns.teamId,
      topic: apns.topic,
      production: apns.production,
      bothEnvironments: apns.bothEnvironments,
      host: apns.host,
      port: apns.port,
      otherHost: apns.otherHost,
      otherPort: apns.otherPort,
    });
  },
  async fcm({ fcm, delivery }) {
    if (fcm === undefined) return undefined;
    const { createFcmProvider } = await import("./fcm.provider.ts");
    return createFcmProvider({
      baseUrl: fcm.baseUrl,
      // As many HTTP/2 streams as the lane lets sends be in flight.
      maxStreams: delivery.limits.fcm.concurrency,
      ...(fcm.projectId !== undefined && { projectId: fcm.projectId }),
      ...(fcm.accessToken !== undefined
        ? { accessToken: fcm.accessToken }
        : { serviceAccount: readServiceAccount(fcm.serviceAccountFile) }),
    });
  },
  async webpush({ webPush, delivery }) {
    if (webPush === undefined) return undefined;
    const { createWebPushProvider } = await import("./webpush.provider.ts");
    return createWebPushProvider({
      vapidPublicKey: webPush.publicKey,
      vapidPrivateKey: webPush.privateKey,
      vapidSubject: webPush.subject,
      maxSockets: delivery.limits.webpush.concurrency,
    });
  },
};

async function closeAll(providers: readonly PushProvider[]): Promise<void> {
  await Promise.allSettled(providers.map((p) => p.close()));
}

function readServiceAccount(file: string | undefined): FcmServiceAccount {
  if (file === undefined)
    throw new ConfigError([
      "FCM_SERVICE_ACCOUNT_FILE: required to use FCM (or FCM_ACCESS_TOKEN)",
    ]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([
      `FCM_SERVICE_ACCOUNT_FILE: cannot read ${file} as JSON (${reason})`,
    ]);
  }
  const account = parsed as Partial<FcmServiceAccount> | null;
  if (
    typeof account?.client_email !== "string" ||
    typeof account.private_key !== "string"
  ) {
    throw new ConfigError([
      `FCM_SERVICE_ACCOUNT_FILE: ${file} is not a service account key (it needs client_email and private_key)`,
    ]);
  }
  return account as FcmServiceAccount;
}
