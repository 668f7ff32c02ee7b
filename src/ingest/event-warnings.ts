/*
 * What the intake says back about a call it accepted that changes less than it seems:
 * a device or subscription it could not use. The call and everything else it says are
 * kept; the warning names what to fix. Codes are stable; messages may change.
 */

export const WarningCode = {
  /** `context.device.token` with a `type` other than ios or android. */
  deviceTypeUnknown: "device_type_unknown",
  /** A token whose shape does not fit its platform (a short hex "APNs" token, a hex FCM token). */
  deviceTokenMalformed: "device_token_malformed",
  /** A token or endpoint over `MAX_DEVICE_TOKEN_BYTES`. */
  deviceTokenTooLong: "device_token_too_long",
  /** A `messaging_subscriptions` type Nudge does not know. */
  subscriptionTypeUnknown: "subscription_type_unknown",
  /** A push `messaging_subscriptions` entry whose status is not one of Segment's. */
  subscriptionStatusUnknown: "subscription_status_unknown",
  /** A push `messaging_subscriptions` entry without a `key` (its token). */
  subscriptionKeyMissing: "subscription_key_missing",
  /** A Web Push subscription that is not a PushSubscription object or its JSON. */
  webPushSubscriptionInvalid: "web_push_subscription_invalid",
  /** A Web Push endpoint that is not https: web-push cannot send to it. */
  webPushEndpointNotHttps: "web_push_endpoint_not_https",
  /** A Web Push subscription without `keys.p256dh` and `keys.auth`: nothing can be encrypted for it. */
  webPushKeysMissing: "web_push_keys_missing",
} as const;
export type WarningCode = (typeof WarningCode)[keyof typeof WarningCode];

export type EventWarning = { code: WarningCode; message: string };

/** Where readers of a call report what they could not use. */
export type Warn = (code: WarningCode, message: string) => void;

/** For readers whose warnings nobody asked for. */
export const ignoreWarnings: Warn = () => undefined;
