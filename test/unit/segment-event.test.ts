import { describe, expect, it } from "vitest";
import {
  parseSegmentEvent,
  type EventProblem,
} from "../../src/ingest/segment-event.schema.ts";
import { CALL_TYPES, type SegmentEvent } from "../../src/segment-event.ts";

const NOW = new Date("2024-06-01T12:00:00.000Z");

function parsed(input: unknown, defaults = {}): SegmentEvent {
  const result = parseSegmentEvent(input, NOW, defaults);
  if (!result.ok) {
    throw new Error(`expected a valid event, got ${JSON.stringify(result)}`);
  }
  return result.event;
}

function problemsOf(input: unknown): EventProblem[] {
  const result = parseSegmentEvent(input, NOW);
  if (result.ok) throw new Error("expected the event to be rejected");
  return result.problems;
}

/** The smallest valid call of each type. */
const MINIMAL: Record<(typeof CALL_TYPES)[number], Record<string, unknown>> = {
  identify: { type: "identify", userId: "u1", traits: { plan: "pro" } },
  track: { type: "track", userId: "u1", event: "Order Completed" },
  page: { type: "page", anonymousId: "a1", name: "Home" },
  screen: { type: "screen", userId: "u1", name: "Cart" },
  group: { type: "group", userId: "u1", groupId: "g1" },
  alias: { type: "alias", userId: "u1", previousId: "a1" },
  delete: { type: "delete", userId: "u1" },
};

describe("parseSegmentEvent: call types", () => {
  it.each(CALL_TYPES)(
    "when a minimal %s call arrives, then it is accepted with its type",
    (type) => {
      const event = parsed({ ...MINIMAL[type], messageId: `m-${type}` });
      expect(event.type).toBe(type);
      expect(event.messageId).toBe(`m-${type}`);
      expect(event.payload.type).toBe(type);
    },
  );

  it("when the type is uppercase, then it is accepted and lowercased", () => {
    const event = parsed({ ...MINIMAL.track, type: "TRACK" });
    expect(event.type).toBe("track");
    expect(event.payload.type).toBe("track");
  });

  it("when the type is unknown, then the type is reported", () => {
    expect(problemsOf({ type: "purchase", userId: "u1" })).toEqual([
      {
        path: "type",
        message:
          "must be one of identify, track, page, screen, group, alias, delete",
      },
    ]);
  });

  it("when the type is missing, then it is reported as required", () => {
    expect(problemsOf({ userId: "u1" })).toEqual([
      {
        path: "type",
        message:
          "is required: one of identify, track, page, screen, group, alias, delete",
      },
    ]);
  });

  it("when the input is not an object, then the event as a whole is reported", () => {
    expect(problemsOf("hello")).toEqual([
      { path: "(event)", message: expect.any(String) },
    ]);
  });

  it("when a call carries fields Nudge does not know, then they are kept in the payload", () => {
    const event = parsed({ ...MINIMAL.track, integrations: { All: false } });
    expect(event.payload.integrations).toEqual({ All: false });
  });

  it("when properties, traits or context are null or missing, then they become empty objects", () => {
    const event = parsed({ ...MINIMAL.track, properties: null });
    expect(event.properties).toEqual({});
    expect(event.traits).toEqual({});
    expect(event.context).toEqual({});
  });

  it("when traits are not an object, then traits is reported", () => {
    expect(problemsOf({ ...MINIMAL.identify, traits: 5 })).toEqual([
      { path: "traits", message: expect.any(String) },
    ]);
  });
});

describe("parseSegmentEvent: ids", () => {
  it("when userId is a number, then it is coerced to a string", () => {
    const event = parsed({ ...MINIMAL.track, userId: 12345 });
    expect(event.userId).toBe("12345");
  });

  it("when ids carry surrounding whitespace, then they are trimmed", () => {
    const event = parsed({ ...MINIMAL.track, userId: " u1 " });
    expect(event.userId).toBe("u1");
  });

  it("when userId is an empty string but anonymousId is set, then userId is absent", () => {
    const event = parsed({
      type: "track",
      event: "Opened",
      userId: "",
      anonymousId: "a1",
    });
    expect(event.userId).toBeUndefined();
    expect(event.anonymousId).toBe("a1");
  });

  it("when userId and anonymousId are both empty strings, then the event is rejected", () => {
    expect(
      problemsOf({
        type: "track",
        event: "Opened",
        userId: "",
        anonymousId: "",
      }),
    ).toEqual([
      { path: "userId", message: "userId or anonymousId is required" },
    ]);
  });

  it("when userId is null, then it counts as absent", () => {
    const event = parsed({
      type: "page",
      userId: null,
      anonymousId: "a1",
    });
    expect(event.userId).toBeUndefined();
  });

  it.each([true, ["u1"], { id: "u1" }])(
    "when userId is %j, then it is reported as what it must be",
    (userId) => {
      expect(problemsOf({ ...MINIMAL.track, userId })).toEqual([
        { path: "userId", message: "must be a string (or a number)" },
      ]);
    },
  );

  it("when version is neither a number nor a string, then it is reported as what it must be", () => {
    expect(problemsOf({ ...MINIMAL.track, version: {} })).toEqual([
      { path: "version", message: "must be a number or a string" },
    ]);
  });

  it("when userId is longer than 255 characters, then it is reported", () => {
    expect(problemsOf({ ...MINIMAL.track, userId: "x".repeat(256) })).toEqual([
      { path: "userId", message: "must be at most 255 characters" },
    ]);
  });

  it("when the event is rejected, then its messageId is still reported", () => {
    const result = parseSegmentEvent({ type: "track", messageId: "m1" }, NOW);
    expect(result).toMatchObject({ ok: false, messageId: "m1" });
  });

  it("when an empty messageId arrives, then one is derived from the content", () => {
    const event = parsed({ ...MINIMAL.track, messageId: "" });
    expect(event.messageId).toMatch(/^nudge-[0-9a-f]{32}$/);
  });
});

describe("parseSegmentEvent: content-derived messageId", () => {
  it("when messageId is missing, then the derived id is put on the event and its payload", () => {
    const event = parsed(MINIMAL.track);
    expect(event.messageId).toMatch(/^nudge-[0-9a-f]{32}$/);
    expect(event.payload.messageId).toBe(event.messageId);
  });

  it("when the same call arrives twice without messageId, then both get the same id", () => {
    const first = parsed(structuredClone(MINIMAL.track));
    const second = parsed(structuredClone(MINIMAL.track));
    expect(second.messageId).toBe(first.messageId);
  });

  it("when two calls differ in any field, then their derived ids differ", () => {
    const first = parsed({ ...MINIMAL.track, properties: { total: 10 } });
    const second = parsed({ ...MINIMAL.track, properties: { total: 11 } });
    expect(second.messageId).not.toBe(first.messageId);
  });
});

describe("parseSegmentEvent: per-type required fields", () => {
  it("when a track call has no event name, then event is reported", () => {
    expect(problemsOf({ type: "track", userId: "u1" })).toEqual([
      { path: "event", message: "is required for track calls" },
    ]);
  });

  it("when a track call's event name is blank, then event is reported", () => {
    expect(problemsOf({ type: "track", userId: "u1", event: "  " })).toEqual([
      { path: "event", message: "is required for track calls" },
    ]);
  });

  it("when an alias call has no previousId, then previousId is reported", () => {
    expect(problemsOf({ type: "alias", userId: "u1" })).toEqual([
      { path: "previousId", message: "is required for alias calls" },
    ]);
  });

  it("when an alias call has only an anonymousId, then userId is reported as required for alias", () => {
    expect(
      problemsOf({ type: "alias", anonymousId: "a1", previousId: "a1" }),
    ).toEqual([{ path: "userId", message: "is required for alias calls" }]);
  });

  it("when a group call has no groupId, then groupId is reported", () => {
    expect(problemsOf({ type: "group", userId: "u1" })).toEqual([
      { path: "groupId", message: "is required for group calls" },
    ]);
  });

  it("when a call has neither userId nor anonymousId, then userId is reported", () => {
    expect(problemsOf({ type: "page" })).toEqual([
      { path: "userId", message: "userId or anonymousId is required" },
    ]);
  });

  it("when a call has several problems, then all of them are reported", () => {
    expect(problemsOf({ type: "track" })).toEqual([
      { path: "userId", message: "userId or anonymousId is required" },
      { path: "event", message: "is required for track calls" },
    ]);
  });

  it("when an anonymous call has only an anonymousId, then it is accepted", () => {
    const event = parsed({ type: "identify", anonymousId: "a1" });
    expect(event.anonymousId).toBe("a1");
  });
});

describe("parseSegmentEvent: batch context defaults", () => {
  it("when the batch has a context, then it is merged under the event's own", () => {
    const event = parsed(
      {
        ...MINIMAL.track,
        context: { locale: "de-DE", device: { type: "ios" } },
      },
      {
        context: {
          locale: "en-US",
          library: { name: "analytics-node" },
        },
      },
    );
    expect(event.context).toEqual({
      locale: "de-DE",
      device: { type: "ios" },
      library: { name: "analytics-node" },
    });
    expect(event.payload.context).toEqual(event.context);
  });

  it("when the event has no context, then the batch context is used", () => {
    const event = parsed(MINIMAL.track, { context: { timezone: "UTC" } });
    expect(event.context).toEqual({ timezone: "UTC" });
  });
});

describe("parseSegmentEvent: timestamp", () => {
  it("when the timestamp is valid, then it is used", () => {
    const event = parsed({
      ...MINIMAL.track,
      timestamp: "2015-2-02T00:30:08.276Z",
      receivedAt: "2020-01-01T00:00:00.000Z",
    });
    expect(event.timestamp.toISOString()).toBe("2015-02-02T00:30:08.276Z");
  });

  it("when the timestamp is bad, then receivedAt is used", () => {
    const event = parsed({
      ...MINIMAL.track,
      timestamp: "yesterday-ish",
      receivedAt: "2020-01-01T00:00:00.000Z",
    });
    expect(event.timestamp.toISOString()).toBe("2020-01-01T00:00:00.000Z");
  });

  it("when timestamp and receivedAt are both bad, then the given time is used", () => {
    const event = parsed({
      ...MINIMAL.track,
      timestamp: "yesterday-ish",
      receivedAt: "soon",
    });
    expect(event.timestamp).toEqual(NOW);
  });

  it("when there is no timestamp at all, then the given time is used", () => {
    expect(parsed(MINIMAL.track).timestamp).toEqual(NOW);
  });
});
