import { describe, expect, it } from "vitest";
import { mapInTurns } from "../../src/in-turns.ts";

describe("mapInTurns", () => {
  it("when a page of 250 is mapped, then it is mapped in order, 100 at a time, and what waited runs between the chunks", async () => {
    const events: string[] = [];
    setImmediate(() => events.push("waiting work"));
    const items = Array.from({ length: 250 }, (_, i) => i);

    const doubled = await mapInTurns(items, (chunk) => {
      events.push(`chunk of ${chunk.length}`);
      return chunk.map((n) => n * 2);
    });

    expect(doubled).toEqual(items.map((n) => n * 2));
    expect(events).toEqual([
      "chunk of 100",
      "waiting work",
      "chunk of 100",
      "chunk of 50",
    ]);
  });

  it("when there is nothing to map, then nothing is called", async () => {
    let calls = 0;
    expect(
      await mapInTurns([], (chunk) => {
        calls++;
        return chunk;
      }),
    ).toEqual([]);
    expect(calls).toBe(0);
  });
});
