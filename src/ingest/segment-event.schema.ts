import { createHash } from "node:crypto";
import { z } from "zod";
import {
  MAX_EVENT_NAME_LENGTH,
  MAX_ID_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_NESTING,
} from "./input-limits.ts";
import { parseSegmentTimestamp } from "./timestamp.ts";
import {
  CALL_TYPES,
  type CallType,
  type SegmentEvent,
} from "../segment-event.ts";

/** Segment ids arrive as strings and, from some libraries, as numbers. Empty means absent. */
const id = (max: number) =>
  z
    .union([z.string(), z.number()], {
      message: "must be a string (or a number)",
    })
    .transform((value) => String(value).trim())
    .pipe(z.string().max(max, `must be at most ${max} characters`))
    .transform((value) => (value === "" ? undefined : value))
    .nullish()
    .transform((value) => value ?? undefined);

const object = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((value) => value ?? {});

/**
 * What a valid call is. The one source of truth: `parsePlainCall` is a fast path that
 * must agree with it (test/unit/segment-event-plain.test.ts checks that it does).
 */
export const eventSchema = z
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
    event: z
      .string()
      .trim()
      .max(
        MAX_EVENT_NAME_LENGTH,
        `must be at most ${String(MAX_EVENT_NAME_LENGTH)} characters`,
      )
      .nullish(),
    name: z.string().nullish(),
    properties: object,
    traits: object,
    context: object,
    timestamp: z.unknown().optional(),
    receivedAt: z.unknown().optional(),
    version: z
      .union([z.number(), z.string()], {
        message: "must be a number or a string",
      })
      .nullish(),
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
  const plain = parsePlainCall(input);
  const result =
    plain === undefined
      ? eventSchema.safeParse(input)
      : { success: true as const, data: plain };
  if (!result.success) {
    return {
      ok: false,
      messageId: receivedMessageId(input),
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

/** A call the intake found nested deeper than `MAX_NESTING`: rejected unread. */
export function rejectedAsTooDeep(input: unknown): ParsedEvent {
  return {
    ok: false,
    messageId: receivedMessageId(input),
    problems: [
      {
        path: "(event)",
        message: `nests objects and arrays deeper than ${String(MAX_NESTING)} levels`,
      },
    ],
  };
}

/** The messageId of a call that was not accepted, to name it in the report. */
function receivedMessageId(input: unknown): string | undefined {
  return typeof input === "object" &&
    input !== null &&
    "messageId" in input &&
    (typeof input.messageId === "string" || typeof input.messageId === "number")
    ? String(input.messageId)
    : undefined;
}

type Call = z.output<typeof eventSchema>;

/**
 * What `eventSchema` makes of a call in the plain shape nearly all traffic has: every
 * field of the expected type and within bounds. Undefined for anything else, which
 * zod then parses and explains. The schema cost ~8 us a call, more than the rest of
 * the ingest's JavaScript, mostly copying properties, traits and context key by key;
 * this keeps them as parsed (nothing changes them) and checks ids without a pipeline.
 * Whatever it accepts, it must output as the schema would: change both together.
 */
export function parsePlainCall(input: unknown): Call | undefined {
  if (!isRecord(input) || typeof input.type !== "string") return undefined;
  const type = input.type.toLowerCase();
  if (!isCallType(type)) return undefined;
  const messageId = plainId(input.messageId, MAX_MESSAGE_ID_LENGTH);
  const userId = plainId(input.userId, MAX_ID_LENGTH);
  const anonymousId = plainId(input.anonymousId, MAX_ID_LENGTH);
  const previousId = plainId(input.previousId, MAX_ID_LENGTH);
  const groupId = plainId(input.groupId, MAX_ID_LENGTH);
  const { event, name, properties, traits, context, version } = input;
  const trimmedEvent = typeof event === "string" ? event.trim() : event;
  if (
    messageId === INVALID ||
    userId === INVALID ||
    anonymousId === INVALID ||
    previousId === INVALID ||
    groupId === INVALID ||
    (typeof trimmedEvent === "string"
      ? trimmedEvent.length > MAX_EVENT_NAME_LENGTH
      : trimmedEvent != null) ||
    (typeof name !== "string" && name != null) ||
    !plainObjectOrNothing(properties) ||
    !plainObjectOrNothing(traits) ||
    !plainObjectOrNothing(context) ||
    (!isFiniteNumber(version) && typeof version !== "string" && version != null)
  )
    return undefined;
  // The superRefine rules: any call they reject goes to zod for its messages.
  if (userId === undefined && anonymousId === undefined) return undefined;
  if (type === "track" && !trimmedEvent) return undefined;
  if (type === "alias" && (previousId === undefined || userId === undefined))
    return undefined;
  if (type === "group" && groupId === undefined) return undefined;
  // As zod does: an id is set where the call has the key, the objects always
  // (zod's output type lists the ids as keys, but its output has only those present)
  const call = {
    ...input,
    type,
    properties: properties ?? {},
    traits: traits ?? {},
    context: context ?? {},
  } as Call;
  if ("messageId" in input) call.messageId = messageId;
  if ("userId" in input) call.userId = userId;
  if ("anonymousId" in input) call.anonymousId = anonymousId;
  if ("previousId" in input) call.previousId = previousId;
  if ("groupId" in input) call.groupId = groupId;
  if ("event" in input) call.event = trimmedEvent as string | null | undefined;
  return call;
}

const INVALID = Symbol("invalid");

/** The `id` schema's value: trimmed, empty and null as undefined; INVALID when it would fail. */
function plainId(
  value: unknown,
  max: number,
): string | undefined | typeof INVALID {
  if (value == null) return undefined;
  if (typeof value !== "string" && !isFiniteNumber(value)) return INVALID;
  const text = String(value).trim();
  if (text.length > max) return INVALID;
  return text === "" ? undefined : text;
}

function plainObjectOrNothing(
  value: unknown,
): value is Record<string, unknown> | null | undefined {
  return (
    value == null ||
    (isRecord(value) && Object.getPrototypeOf(value) === Object.prototype)
  );
}

/** What z.number() accepts: NaN and the infinities fail it. */
function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCallType(type: string): type is CallType {
  return (CALL_TYPES as readonly string[]).includes(type);
}

function contentMessageId(input: unknown): string {
  return `nudge-${createHash("sha256").update(JSON.stringify(input)).digest("hex").slice(0, 32)}`;
}
