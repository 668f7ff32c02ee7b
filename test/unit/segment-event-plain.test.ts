import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  eventSchema,
  parsePlainCall,
} from "../../src/ingest/segment-event.schema.ts";

const EXAMPLES = fileURLToPath(
  new URL("../fixtures/segment-examples/", import.meta.url),
);

/** Segment's own example calls, from single calls, arrays and tracking-API batches. */
function exampleCalls(): Record<string, unknown>[] {
  return readdirSync(EXAMPLES)
    .filter((name) => name.endsWith(".json"))
    .flatMap((name) => {
      const body: unknown = JSON.parse(
        readFileSync(`${EXAMPLES}${name}`, "utf8"),
      );
      const calls = Array.isArray(body)
        ? body
        : typeof body === "object" && body !== null && "batch" in body
          ? (body.batch as unknown[])
          : [body];
      return calls as Record<string, unknown>[];
    });
}

const FIELDS = [
  "type",
  "messageId",
  "userId",
  "anonymousId",
  "previousId",
  "groupId",
  "event",
  "name",
  "properties",
  "traits",
  "context",
  "version",
  "timestamp",
];

/** Values at and past every edge the schema draws. */
const EDGES: unknown[] = [
  undefined,
  null,
  "",
  "   ",
  " padded ",
  "TRACK",
  "Identify",
  "bogus",
  0,
  42,
  -1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  "x".repeat(200),
  "x".repeat(201),
  "x".repeat(255),
  ` ${"x".repeat(255)} `,
  "x".repeat(256),
  [],
  ["a"],
  {},
  { a: 1 },
  new Date(0),
  Object.create(null) as unknown,
];

function variants(): unknown[] {
  const calls: unknown[] = [null, [], "track", 42];
  for (const base of exampleCalls()) {
    calls.push(base);
    for (const field of FIELDS) {
      for (const value of EDGES) {
        // Undefined stands for the field left out.
        const call = Object.fromEntries(
          Object.entries({ ...base, [field]: value }).filter(
            ([key, v]) => key !== field || v !== undefined,
          ),
        );
        calls.push(call);
      }
    }
  }
  return calls;
}

describe("parsePlainCall, the fast path of call validation", () => {
  it("when given any call, then it either leaves it to the schema or outputs exactly what the schema does", () => {
    let plain = 0;
    const calls = variants();
    for (const call of calls) {
      const fast = parsePlainCall(call);
      if (fast === undefined) continue;
      plain++;
      const schema = eventSchema.safeParse(call);
      expect(schema.success, JSON.stringify(call)).toBe(true);
      expect(fast, JSON.stringify(call)).toStrictEqual(schema.data);
    }
    // Most of them take the fast path, or the test would prove little.
    expect(plain).toBeGreaterThan(calls.length / 3);
  });
});
