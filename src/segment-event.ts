/*
 * The Segment call as every stage of Nudge speaks of it, once ingest has validated it:
 * shared vocabulary, in a module that imports nothing, so that planning and stats
 * need not import ingest to name it.
 */

export const CALL_TYPES = [
  "identify",
  "track",
  "page",
  "screen",
  "group",
  "alias",
  "delete",
] as const;
export type CallType = (typeof CALL_TYPES)[number];

/** A validated Segment call, normalized for the rest of Nudge. */
export type SegmentEvent = {
  type: CallType;
  messageId: string;
  userId: string | undefined;
  anonymousId: string | undefined;
  previousId: string | undefined;
  groupId: string | undefined;
  event: string | undefined;
  name: string | undefined;
  properties: Record<string, unknown>;
  traits: Record<string, unknown>;
  context: Record<string, unknown>;
  timestamp: Date;
  /** The call as received (with defaults applied), stored and handed to rule conditions. */
  payload: Record<string, unknown>;
};
