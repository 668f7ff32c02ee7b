import type { Platform } from "../vocabulary.ts";
import { APNS_MAX_PAYLOAD_BYTES, apnsPayloadBytes } from "./apns-payload.ts";
import { FCM_MAX_PAYLOAD_BYTES, fcmPayloadBytes } from "./fcm-message.ts";
import type { PushMessage } from "./provider.ts";
import {
  WEBPUSH_MAX_PAYLOAD_BYTES,
  webPushPayloadText,
} from "./webpush-payload.ts";

/** A platform's payload as measured against that platform's limit. */
export type PayloadSize = { platform: Platform; bytes: number; limit: number };

export const PAYLOAD_LIMITS: Readonly<Record<Platform, number>> = {
  apns: APNS_MAX_PAYLOAD_BYTES,
  fcm: FCM_MAX_PAYLOAD_BYTES,
  webpush: WEBPUSH_MAX_PAYLOAD_BYTES,
};

/** The size of the payload a platform's provider would send for `push`. */
export function payloadSizeOf(
  platform: Platform,
  push: PushMessage,
): PayloadSize {
  const bytes =
    platform === "apns"
      ? apnsPayloadBytes(push)
      : platform === "fcm"
        ? fcmPayloadBytes(push)
        : Buffer.byteLength(webPushPayloadText(push));
  return { platform, bytes, limit: PAYLOAD_LIMITS[platform] };
}
