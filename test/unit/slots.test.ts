import { describe, expect, it } from "vitest";
import { createSlots } from "../../src/slots.ts";

describe("slots", () => {
  it("when every slot is held, then takers wait and get the slots given back in the order they came", async () => {
    const slots = createSlots(2);
    expect(slots.take()).toBeUndefined();
    expect(slots.take()).toBeUndefined();
    const served: string[] = [];
    const first = slots.take()?.then(() => served.push("first"));
    const second = slots.take()?.then(() => served.push("second"));
    expect(first).toBeDefined();
    expect(slots.wanted()).toBe(4);

    slots.give();
    await first;
    expect(served).toEqual(["first"]);
    expect(slots.wanted()).toBe(3);

    slots.give();
    await second;
    slots.give();
    slots.give();
    expect(served).toEqual(["first", "second"]);
    expect(slots.wanted()).toBe(0);
    expect(slots.take()).toBeUndefined();
  });
});
