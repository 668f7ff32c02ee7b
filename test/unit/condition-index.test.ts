import { describe, expect, it } from "vitest";
import {
  matchesCondition,
  parseCondition,
  type Condition,
} from "../../src/rules/condition.ts";
import { createConditionIndex } from "../../src/rules/condition-index.ts";

type Entry = { id: string; when: string | undefined };

function conditionFrom(source: string): Condition {
  const result = parseCondition(source);
  if (!result.ok) throw new Error(`bad condition in test: ${source}`);
  return result.condition;
}

/** Entries with their conditions parsed once, as a rule book holds them. */
function entriesOf(list: readonly Entry[]) {
  return list.map((entry) => ({
    ...entry,
    condition: entry.when === undefined ? undefined : conditionFrom(entry.when),
  }));
}

/** What a plain scan over every entry would find: the index must agree with it. */
function scan(
  entries: ReturnType<typeof entriesOf>,
  payload: Record<string, unknown>,
): string[] {
  return entries
    .filter(
      ({ condition }) =>
        condition !== undefined && matchesCondition(condition, payload),
    )
    .map(({ id }) => id);
}

const ENTRIES = entriesOf([
  { id: "props-only", when: "properties.x = 1" },
  { id: "event-a", when: 'event = "A"' },
  { id: "track-only", when: 'type = "track"' },
  { id: "a-or-b", when: 'event = "A" or event = "B"' },
  { id: "track-and-a", when: 'type = "track" and event = "A"' },
  { id: "no-condition", when: undefined },
  { id: "event-b", when: 'event = "B"' },
  { id: "identify-only", when: 'type = "identify"' },
  {
    id: "a-and-props-or",
    when: 'event = "A" and (properties.x = 1 or properties.y = 2)',
  },
  { id: "track-or-x", when: 'type = "track" or properties.x = 1' },
]);

const PAYLOADS: Record<string, Record<string, unknown>> = {
  "track A": { type: "track", event: "A", properties: {} },
  "track A with x": { type: "track", event: "A", properties: { x: 1 } },
  "track A with y": { type: "track", event: "A", properties: { y: 2 } },
  "track B": { type: "track", event: "B", properties: {} },
  "track C with x": { type: "track", event: "C", properties: { x: 1 } },
  "page A (not a track)": { type: "page", event: "A", properties: {} },
  identify: { type: "identify", traits: { x: 1 } },
  "no type or event": { properties: { x: 1 } },
};

describe("createConditionIndex", () => {
  const index = createConditionIndex(ENTRIES, (entry) => entry.condition);

  it("when an event is tracked, then exactly the matching entries come back in their original order", () => {
    expect(
      index.matching(PAYLOADS["track A with x"] ?? {}).map(({ id }) => id),
    ).toEqual([
      "props-only",
      "event-a",
      "track-only",
      "a-or-b",
      "track-and-a",
      "a-and-props-or",
      "track-or-x",
    ]);
    expect(
      index.matching(PAYLOADS["track B"] ?? {}).map(({ id }) => id),
    ).toEqual(["track-only", "a-or-b", "event-b", "track-or-x"]);
  });

  it("when conditions are indexed by event, by type or not at all, then every payload finds what a full scan finds", () => {
    for (const [name, payload] of Object.entries(PAYLOADS)) {
      expect(
        index.matching(payload).map(({ id }) => id),
        name,
      ).toEqual(scan(ENTRIES, payload));
    }
  });

  it('when the type differs, then `type = "track" and event = "A"` does not match an event A of another type', () => {
    const ids = index
      .matching(PAYLOADS["page A (not a track)"] ?? {})
      .map(({ id }) => id);
    expect(ids).toContain("event-a");
    expect(ids).not.toContain("track-and-a");
    expect(ids).not.toContain("track-only");
  });

  it("when an entry has no condition, then it never matches", () => {
    for (const payload of Object.values(PAYLOADS)) {
      expect(index.matching(payload).map(({ id }) => id)).not.toContain(
        "no-condition",
      );
    }
  });

  it("when a thousand non-matching indexed rules are added, then an event's result does not change", () => {
    const noise = entriesOf(
      Array.from({ length: 1000 }, (_, n) => ({
        id: `noise-${n}`,
        when:
          n % 2 === 0
            ? `event = "Other ${n}"`
            : `type = "screen" and event = "Other ${n}"`,
      })),
    );
    // Interleave the noise, so order is kept across buckets as well.
    const mixed = ENTRIES.flatMap((entry, n) => [
      ...noise.slice(n * 100, n * 100 + 100),
      entry,
    ]);
    const big = createConditionIndex(mixed, (entry) => entry.condition);
    for (const payload of Object.values(PAYLOADS)) {
      expect(big.matching(payload)).toEqual(index.matching(payload));
    }
  });

  it("when an event is matched, then conditions filed under other events are not evaluated", () => {
    const reads = new Map<string, number>();
    // Count how often matching looks at each condition's syntax tree.
    const probed = ENTRIES.map((entry) => {
      if (entry.condition === undefined) return entry;
      const ast = new Proxy(entry.condition.ast, {
        get(target, key, receiver) {
          reads.set(entry.id, (reads.get(entry.id) ?? 0) + 1);
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
      return { ...entry, condition: { ...entry.condition, ast } };
    });
    const probedIndex = createConditionIndex(
      probed,
      (entry) => entry.condition,
    );
    reads.clear();

    probedIndex.matching({ type: "track", event: "B", properties: {} });

    const evaluated = [...reads.keys()].sort();
    expect(evaluated).toEqual(
      ["a-or-b", "event-b", "props-only", "track-only", "track-or-x"].sort(),
    );
  });
});
