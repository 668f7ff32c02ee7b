import type { Environment } from "./environment.schema.ts";

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

/** Each push provider's settings; undefined: that provider is not configured. */
export type ProviderConfigs = {
  apns: ApnsConfig | undefined;
  fcm: FcmConfig | undefined;
  webPush: WebPushConfig | undefined;
};

/**
 * The providers the environment configures. `production` is the default APNs
 * environment, so a production process sends to production APNs unless told otherwise.
 */
export function providerConfigs(
  values: Environment,
  production: boolean,
): ProviderConfigs {
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

/**
 * A provider is configured by all of its keys or none: half a set is a mistake. Read
 * from the raw environment so these are reported together with the schema's problems.
 */
export function incompleteProviders(
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
