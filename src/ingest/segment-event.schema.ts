import { createHash } from "node:crypto";
import { z } from "zod";
import { parseSegmentTimestamp } from "./timestamp.ts";

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

const MAX_ID_LENGTH = 255;
const MAX_MESSAGE_ID_LENGTH = 200;

/** Segment ids arrive as strings and, from some libraries, as numbers. Empty means absent. */
const id = (max: number) =>
  z
    .union([z.string(), z.number()])
    .transform((value) => String(value).trim())
    .pipe(z.string().max(max, `must be at most ${max} characters`))
    .transform((value) => (value === "" ? undefined : value))
    .nullish()
    .transform((value) => value ?? undefined);

const object = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((value) => value ?? {});

const eventSchema = z
  .looseObject({
    type: z
      .string({ message: `is required: one of ${CALL_TYPES.join(", ")}` })
      .transform((value) => value.toLowerCase())
      .pipe(
        z.enum(CALL_TYPES, {
          message: `must be one of ${CALL_TYPES.join(", ")}`,
        }),
      ),
    messageId: id(MAX_MESSAGE_ID_LENGTH),
    userId: id(MAX_ID_LENGTH),
    anonymousId: id(MAX_ID_LENGTH),
    previousId: id(MAX_ID_LENGTH),
    groupId: id(MAX_ID_LENGTH),
    event: z.string().trim().max(MAX_ID_LENGTH).nullish(),
    name: z.string().nullish(),
    properties: object,
    traits: object,
    context: object,
    timestamp: z.unknown().optional(),
    receivedAt: z.unknown().optional(),
    version: z.union([z.number(), z.string()]).nullish(),
  })
  .superRefine((event, ctx) => {
    const need = (path: string, message: string) => {
      ctx.addIssue({ code: "custom", path: [path], message });
    };
    if (event.userId === undefined && event.anonymousId === undefined) {
      need("userId", "userId or anonymousId is required");
    }
    if (event.type === "track" && !event.event)
      need("event", "is required for track calls");
    if (event.type === "alias") {
      if (event.previousId === undefined)
        need("previousId", "is required for alias calls");
      if (event.userId === undefined)
        need("userId", "is required for alias calls");
    }
    if (event.type === "group" && event.groupId === undefined) {
      need("groupId", "is required for group calls");
    }
  });

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

export type EventProblem = { path: string; message: string };

export type ParsedEvent =
  | { ok: true; event: SegmentEvent }
  | { ok: false; messageId: string | undefined; problems: EventProblem[] };

/**
 * Validates one call. `defaults` are the batch-level `context`/`integrations` of the
 * tracking API, merged under the call's own. A call without a messageId gets one
 * derived from its content, so an identical retry is still recognised as a duplicate.
 */
export function parseSegmentEvent(
  input: unknown,
  receivedAt: Date,
  defaults: { context?: Record<string, unknown> } = {},
): ParsedEvent {
  const result = eventSchema.safeParse(input);
  if (!result.success) {
    const messageId =
      typeof input === "object" &&
      input !== null &&
      "messageId" in input &&
      (typeof input.messageId === "string" ||
        typeof input.messageId === "number")
        ? String(input.messageId)
        : undefined;
    return {
      ok: false,
      messageId,
      problems: result.error.issues.map((issue) => ({
        path: issue.path.join(".") || "(event)",
        message: issue.message,
      })),
    };
  }
  const call = result.data;
  const context = defaults.context
    ? { ...defaults.context, ...call.context }
    : call.context;
  const messageId = call.messageId ?? contentMessageId(input);
  const timestamp =
    parseSegmentTimestamp(call.timestamp) ??
    parseSegmentTimestamp(call.receivedAt) ??
    receivedAt;
  const payload: Record<string, unknown> = {
    ...call,
    messageId,
    context,
    type: call.type,
  };
  return {
    ok: true,
    event: {
      type: call.type,
      messageId,
      userId: call.userId,
      anonymousId: call.anonymousId,
      previousId: call.previousId,
      groupId: call.groupId,
      event: call.event ?? undefined,
      name: call.name ?? undefined,
      properties: call.properties,
      traits: call.traits,
      context,
      timestamp,
      payload,
    },
  };
}

function contentMessageId(input: unknown): string {
  return `nudge-${createHash("sha256").update(JSON.stringify(input)).digest("hex").slice(0, 32)}`;
}
