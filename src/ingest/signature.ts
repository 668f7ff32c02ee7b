import { createHmac, timingSafeEqual } from "node:crypto";

/** Buffer.from(…, "hex") stops at the first non-hex digit, so the text is checked first. */
const SHA1_HEX = /^[0-9a-f]{40}$/i;

/**
 * Segment signs `JSON.stringify(data)` with HMAC-SHA1. For a single event that is the
 * raw body; Webhooks (Actions) batching posts an array and signs only its first element.
 * Undefined when that element nests too deep for JSON.stringify: Segment could not
 * have signed it either.
 */
export function signedPayload(
  rawBody: Buffer,
  parsed: unknown,
): Buffer | string | undefined {
  if (!Array.isArray(parsed)) return rawBody;
  if (parsed.length === 0) return "";
  try {
    return JSON.stringify(parsed[0]);
  } catch {
    return undefined;
  }
}

export function segmentSignature(
  secret: string,
  payload: Buffer | string,
): string {
  return createHmac("sha1", secret).update(payload).digest("hex");
}

/** Constant-time comparison of a received lowercase-hex signature with the expected one. */
export function isValidSignature(
  secret: string,
  payload: Buffer | string | undefined,
  received: string,
): boolean {
  const text = received.trim();
  if (payload === undefined || !SHA1_HEX.test(text)) return false;
  const expected = Buffer.from(segmentSignature(secret, payload), "hex");
  return timingSafeEqual(Buffer.from(text, "hex"), expected);
}
