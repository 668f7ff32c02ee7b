import { apnsRequestOf } from "./apns-payload.ts";
import { fcmMessageOf, ttlSeconds as fcmTtl } from "./fcm-message.ts";
import { payloadSizeOf, type PayloadSize } from "./payload-size.ts";
import type { PushMessage } from "./provider.ts";
import { payloadOf, urgencyOf } from "./webpush-payload.ts";
import { topicOf, ttlSeconds as webPushTtl } from "./webpush.provider.ts";
import type { Platform } from "../vocabulary.ts";

/**
 * What a provider would send for a push, as a person checks it: the headers and body
 * of the request (Web Push's before it is encrypted), and the payload's size against
 * the platform's limit. The device's token stands as a placeholder.
 */
export type WirePayload = PayloadSize & {
  headers: Record<string, string>;
  body: unknown;
};

export function wirePayloadOf(
  platform: Platform,
  push: PushMessage,
  now: Date,
): WirePayload {
  const size = payloadSizeOf(platform, push);
  switch (platform) {
    case "apns": {
      const request = apnsRequestOf(push);
      const headers: Record<string, string> = {
        "apns-push-type": request.pushType,
        "apns-priority": String(request.priority),
        "apns-collapse-id": request.collapseId,
      };
      if (request.expiration !== undefined)
        headers["apns-expiration"] = String(request.expiration);
      return { ...size, headers, body: request.payload };
    }
    case "fcm": {
      const token = "<registration token>";
      const ttl = fcmTtl(push.expiresAt, now);
      return {
        ...size,
        headers: {},
        body: { message: fcmMessageOf({ ...push, token }, ttl) },
      };
    }
    case "webpush": {
      const headers: Record<string, string> = {
        TTL: String(webPushTtl(push.expiresAt, now) ?? 0),
        Urgency: urgencyOf(push),
        Topic: topicOf(push.notificationId),
      };
      return { ...size, headers, body: payloadOf(push) };
    }
  }
}
