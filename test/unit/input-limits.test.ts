import { describe, expect, it } from "vitest";
import {
  fitsBytes,
  MAX_CATEGORY_LENGTH,
  MAX_DEVICE_TOKEN_BYTES,
  MAX_ID_LENGTH,
  MAX_ITEM_KEY_BYTES,
  MAX_MESSAGE_ID_LENGTH,
} from "../../src/ingest/input-limits.ts";

/** PostgreSQL's largest b-tree index row (BTMaxItemSize with 8 KB pages). */
const INDEX_ROW_BYTES = 2704;

/** The most UTF-8 bytes of a value limited to `length` UTF-16 code units. */
const widest = (length: number) => length * 3;

const RULE_ID_BYTES = 64; // identifiers of the rules file: 64 ASCII characters
const UUID_BYTES = 36;
const TIMESTAMP_BYTES = 8;

/**
 * An index row's size with its text columns at their widest: the row header, and per
 * column a 4-byte length header and the value, aligned to 4 bytes. No compression is
 * assumed (random values do not compress).
 */
function indexRowBytes(textColumns: number[], timestamps = 0): number {
  const align = (n: number) => Math.ceil(n / 4) * 4;
  return (
    8 +
    textColumns.reduce((sum, bytes) => sum + align(4 + bytes), 0) +
    timestamps * TIMESTAMP_BYTES
  );
}

describe("input limits", () => {
  const user = widest(MAX_ID_LENGTH);
  const indexes: Record<string, number> = {
    "events (message_id)": indexRowBytes([widest(MAX_MESSAGE_ID_LENGTH)]),
    "events (user_id, received_at)": indexRowBytes([user], 1),
    "devices (platform, token)": indexRowBytes([7, MAX_DEVICE_TOKEN_BYTES]),
    "devices (user_id, device_id)": indexRowBytes([user, UUID_BYTES]),
    "category_preferences (user_id, category)": indexRowBytes([
      user,
      widest(MAX_CATEGORY_LENGTH),
    ]),
    "saved_items (user_id, collection, item_key)": indexRowBytes([
      user,
      RULE_ID_BYTES,
      MAX_ITEM_KEY_BYTES,
    ]),
    "rule_matches (rule_id, trigger_message_id)": indexRowBytes([
      RULE_ID_BYTES,
      widest(MAX_MESSAGE_ID_LENGTH),
    ]),
    "deliveries (user_id, notification_id, device_id)": indexRowBytes([
      user,
      UUID_BYTES,
      UUID_BYTES,
    ]),
  };

  it.each(Object.entries(indexes))(
    "when every value of %s is at its limit, then the index row fits",
    (_index, bytes) => {
      expect(bytes).toBeLessThan(INDEX_ROW_BYTES);
    },
  );

  it("when a text is measured, then it is by its UTF-8 bytes", () => {
    expect(fitsBytes("a".repeat(2048), 2048)).toBe(true);
    expect(fitsBytes("a".repeat(2049), 2048)).toBe(false);
    expect(fitsBytes("€".repeat(682), 2048)).toBe(true);
    expect(fitsBytes("€".repeat(683), 2048)).toBe(false);
    expect(fitsBytes("😀".repeat(512), 2048)).toBe(true);
    expect(fitsBytes("😀".repeat(513), 2048)).toBe(false);
  });
});
