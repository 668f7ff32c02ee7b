/*
 * How long a value that ends up in an index may be. A b-tree index row holds at most
 * 2,704 bytes: one longer value fails the whole statement, and with it every other call
 * of the request, which Segment then retries for hours and drops, good calls included.
 * So every such value is bounded here, and checked before anything is written. Each
 * limit is far above what real data holds, and the widest index, saved_items' key of
 * (user_id, collection, item_key), stays under 1,900 bytes with all three at their
 * limits (test/unit/input-limits.test.ts adds them up).
 *
 * Ids are counted in characters as JavaScript counts them (UTF-16 code units), as
 * Segment counts its messageId: one such character is at most 3 bytes of UTF-8. The
 * other values are counted in UTF-8 bytes, what the index holds.
 */

/** userId, anonymousId, previousId, groupId, and the admin API's user ids. */
export const MAX_ID_LENGTH = 255;

/** Segment's own messageIds are at most 100 characters; other senders make longer ones. */
export const MAX_MESSAGE_ID_LENGTH = 200;

/** A track call's event name. */
export const MAX_EVENT_NAME_LENGTH = 255;

/**
 * A device's token: an APNs token (64 hex digits), an FCM registration token (about
 * 160–250 characters) or a Web Push endpoint URL (a few hundred).
 */
export const MAX_DEVICE_TOKEN_BYTES = 2048;

/** The key of a saved item, such as a wishlist's `properties.product_id`. */
export const MAX_ITEM_KEY_BYTES = 1024;

/**
 * A preference category named by a call (messaging_subscriptions `groups`): the rules
 * file declares categories as identifiers of at most 64 characters, so a longer name
 * could never be one of them.
 */
export const MAX_CATEGORY_LENGTH = 64;

/**
 * How deep a call may nest objects and arrays: far beyond any real payload, and far
 * below the depth at which JSON.stringify and PostgreSQL's JSON parser, both recursive,
 * give up (a few thousand levels) and fail the whole request.
 */
export const MAX_NESTING = 64;

/** Whether `text` takes at most `max` bytes as UTF-8, without encoding short texts. */
export function fitsBytes(text: string, max: number): boolean {
  // A UTF-16 code unit is at most 3 bytes of UTF-8.
  return text.length * 3 <= max || Buffer.byteLength(text, "utf8") <= max;
}
