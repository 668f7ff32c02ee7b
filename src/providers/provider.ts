import type { JsonObject, Platform } from "../db/schema.ts";

/** One push to one device: what every provider turns into its own wire format. */
export type Push = {
  /** The notification id, sent as `nudge_id` and used as the collapse id. */
  notificationId: string;
  userId: string;
  deviceId: string;
  platform: Platform;
  /** APNs device token, FCM registration token, or the Web Push endpoint. */
  token: string;
  /** The Web Push subscription ({endpoint, keys: {p256dh, auth}}); null elsewhere. */
  subscription: JsonObject | null;
  title: string;
  body: string;
  deepLink: string | undefined;
  image: string | undefined;
  sound: string | undefined;
  badge: number | undefined;
  /** Custom data; values are strings on every platform. */
  data: Readonly<Record<string, string>>;
  /** Groups pushes on the device (APNs thread id, Android tag): the rule id. */
  threadId: string;
  /** After this instant the push is worthless: the providers' expiry/ttl. */
  expiresAt: Date | undefined;
};

/**
 * What became of one push. Providers return outcomes as values and never throw for a
 * provider's answer, so delivery handles each kind in one exhaustive switch.
 */
export type SendOutcome =
  /** Accepted by the provider. */
  | { kind: "sent"; providerMessageId?: string }
  /** Try again later: 429, 5xx, timeouts, resets. `retryAfterMs` from `Retry-After`. */
  | { kind: "retry"; reason: string; retryAfterMs?: number }
  /** The token or subscription is dead: disable the device, never retry. */
  | { kind: "invalid_token"; reason: string }
  /** Retrying cannot help (payload too large, bad credentials): says what to fix. */
  | { kind: "permanent"; reason: string };

export const ProviderName = {
  apns: "apns",
  fcm: "fcm",
  webpush: "webpush",
  log: "log",
} as const;
export type ProviderName = (typeof ProviderName)[keyof typeof ProviderName];

/** A push service client: created once, shared by all sends, closed on shutdown. */
export interface PushProvider {
  readonly name: ProviderName;
  send(push: Push): Promise<SendOutcome>;
  close(): Promise<void>;
}

/** The wire data every push carries besides the rule's own data. */
export function pushData(push: Push): Record<string, string> {
  return {
    ...push.data,
    nudge_id: push.notificationId,
    ...(push.deepLink === undefined ? {} : { deep_link: push.deepLink }),
  };
}
