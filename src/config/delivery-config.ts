import type { Environment } from "./environment.schema.ts";

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

/** The delivery worker's settings, with the environment's seconds as milliseconds. */
export function deliveryConfig(values: Environment): DeliveryConfig {
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
