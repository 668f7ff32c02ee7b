import { measureMessage } from "../providers/push-content.ts";
import type { PayloadSize } from "../rules/policy.ts";
import type { RenderedMessage } from "../rules/message-template.ts";
import type { Platform } from "../vocabulary.ts";

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
      const size = measureMessage(content, ruleId, platform);
      if (size.bytes > size.limit) return size;
    }
    return undefined;
  };
}
