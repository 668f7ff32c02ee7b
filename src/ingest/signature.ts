import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Segment signs `JSON.stringify(data)` with HMAC-SHA1. For a single event that is the
 * raw body; Webhooks (Actions) batching posts an array and signs only its first element.
 */
export function signedPayload(
  rawBody: Buffer,
  parsed: unknown,
): Buffer | string {
  if (Array.isArray(parsed))
    return parsed.length === 0 ? "" : JSON.stringify(parsed[0]);
  return rawBody;
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
  payload: Buffer | string,
  received: string,
): boolean {
  const expected = Buffer.from(segmentSignature(secret, payload), "hex");
  const given = Buffer.from(received.trim().toLowerCase(), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
