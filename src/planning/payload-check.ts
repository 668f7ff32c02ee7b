import { payloadSizeOf } from "../providers/payload-size.ts";
import { pushMessageOf } from "../providers/push-content.ts";
import type { PayloadSize } from "../rules/policy.ts";
import type { RenderedMessage } from "../rules/message-template.ts";
import type { Platform } from "../vocabulary.ts";

/**
 * Every notification id is a UUID of 36 characters (see `notificationIdOf`), so one
 * of them measures every recipient's `nudge_id` exactly.
 */
const ANY_NOTIFICATION_ID = "00000000-0000-5000-8000-000000000000";

/**
 * Measures a rule's rendered message on each platform the recipient has a device on,
 * with the payload the provider would send: the first over its limit, or undefined.
 * A device added after planning meets the same check in its provider, which refuses an
 * oversized push without a request.
 */
export function createPayloadCheck(
  ruleId: string,
): (
  content: RenderedMessage,
  platforms: readonly Platform[],
) => PayloadSize | undefined {
  return (content, platforms) => {
    for (const platform of new Set(platforms)) {
      const push = pushMessageOf(
        content,
        { notificationId: ANY_NOTIFICATION_ID, ruleId, expiresAt: undefined },
        platform,
      );
      const size = payloadSizeOf(platform, push);
      if (size.bytes > size.limit) return size;
    }
    return undefined;
  };
}
