/*
 * Words every stage of Nudge shares besides the Segment call (segment-event.ts): the
 * push platforms and a JSON object. A module that imports nothing, so that providers
 * and profiles need not import the database's schema to name them.
 */

/** Where a device receives pushes: Apple, Firebase, or a browser's push service. */
export const Platform = {
  apns: "apns",
  fcm: "fcm",
  webpush: "webpush",
} as const;
export type Platform = (typeof Platform)[keyof typeof Platform];

/** A JSON object as read from a request or a jsonb column. */
export type JsonObject = Record<string, unknown>;
