import type { Subscription } from "@segment/destination-subscriptions";
import { matchesCondition, type Condition } from "./condition.ts";

/**
 * Finds the entries whose condition matches an event without evaluating the ones that
 * cannot: a condition that requires `event = "X"` (or `type = "t"`) at its top level is
 * filed under that name (or type), so matching costs what the event's own candidates
 * cost, however many other rules there are.
 */
export type ConditionIndex<T> = {
  matching(payload: Record<string, unknown>): T[];
};

type Key = { kind: "event" | "type"; value: string } | undefined;

export function createConditionIndex<T>(
  entries: readonly T[],
  conditionOf: (entry: T) => Condition | undefined,
): ConditionIndex<T> {
  type Indexed = { entry: T; condition: Condition; position: number };
  const byEvent = new Map<string, Indexed[]>();
  const byType = new Map<string, Indexed[]>();
  const always: Indexed[] = [];
  for (const [position, entry] of entries.entries()) {
    const condition = conditionOf(entry);
    if (condition === undefined) continue;
    const key = indexKey(condition.ast);
    const bucket =
      key === undefined
        ? always
        : getOrCreate(key.kind === "event" ? byEvent : byType, key.value);
    bucket.push({ entry, condition, position });
  }
  return {
    matching(payload) {
      const event =
        typeof payload.event === "string" ? payload.event : undefined;
      const type = typeof payload.type === "string" ? payload.type : undefined;
      const candidates = [
        ...(event === undefined ? [] : (byEvent.get(event) ?? [])),
        ...(type === undefined ? [] : (byType.get(type) ?? [])),
        ...always,
      ];
      // Keep the entries' own order, whichever bucket they came from.
      return candidates
        .filter(({ condition }) => matchesCondition(condition, payload))
        .sort((a, b) => a.position - b.position)
        .map(({ entry }) => entry);
    },
  };
}

/** An `event =` condition is more selective than a `type =` one, so it is preferred. */
function indexKey(ast: Subscription): Key {
  if ("error" in ast || ast.operator !== "and") return undefined;
  let key: Key;
  for (const child of ast.children) {
    if (child.operator !== "=" || typeof child.value !== "string") continue;
    if (child.type === "event") return { kind: "event", value: child.value };
    if (child.type === "event-type") key = { kind: "type", value: child.value };
  }
  return key;
}

function getOrCreate<V>(map: Map<string, V[]>, key: string): V[] {
  let list = map.get(key);
  if (list === undefined) {
    list = [];
    map.set(key, list);
  }
  return list;
}
