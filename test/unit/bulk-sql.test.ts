import { describe, expect, it } from "vitest";
import { isoTime } from "../../src/db/bulk-sql.ts";

describe("isoTime", () => {
  it("when given a time, then it is the text JSON would make of it", () => {
    const times = [
      new Date("2026-11-23T01:02:03.004Z"),
      new Date("2026-11-23T01:02:03.004Z"),
      new Date("1999-12-31T23:59:59.999Z"),
      new Date("2026-11-23T01:02:03.004Z"),
    ];
    for (const time of times)
      expect(isoTime(time)).toBe(JSON.parse(JSON.stringify(time)));
  });

  it("when given no time or an invalid one, then it is null, as JSON would make it", () => {
    expect(isoTime(null)).toBeNull();
    expect(isoTime(undefined)).toBeNull();
    expect(isoTime(new Date(Number.NaN))).toBeNull();
    expect(JSON.stringify(new Date(Number.NaN))).toBe("null");
  });
});
