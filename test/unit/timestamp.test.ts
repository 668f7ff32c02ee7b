import { describe, expect, it } from "vitest";
import { parseSegmentTimestamp } from "../../src/ingest/timestamp.ts";

function iso(value: unknown): string | undefined {
  return parseSegmentTimestamp(value)?.toISOString();
}

describe("parseSegmentTimestamp", () => {
  it.each([
    ["2015-12-10T04:08:31.905Z", "2015-12-10T04:08:31.905Z"],
    ["2024-01-01t10:00:00z", "2024-01-01T10:00:00.000Z"],
    ["2024-01-01T10:00:00.123456Z", "2024-01-01T10:00:00.123Z"],
  ])("when given the ISO string %s, then it reads %s", (input, expected) => {
    expect(iso(input)).toBe(expected);
  });

  it.each([
    ["2015-2-02T00:30:08.276Z", "2015-02-02T00:30:08.276Z"],
    ["2024-1-5T3:4:5Z", "2024-01-05T03:04:05.000Z"],
    ["2024-1-5", "2024-01-05T00:00:00.000Z"],
  ])(
    "when given the unpadded date %s, then it is padded and reads %s",
    (input, expected) => {
      expect(iso(input)).toBe(expected);
    },
  );

  it.each([
    ["2024-01-01T10:00:00+02:00", "2024-01-01T08:00:00.000Z"],
    ["2024-01-01T10:00:00+0200", "2024-01-01T08:00:00.000Z"],
    ["2024-01-01T10:00:00-05:30", "2024-01-01T15:30:00.000Z"],
  ])("when given the offset time %s, then it reads %s", (input, expected) => {
    expect(iso(input)).toBe(expected);
  });

  it.each([
    ["2024-03-05", "2024-03-05T00:00:00.000Z"],
    ["2024-01-01T10:00:00", "2024-01-01T10:00:00.000Z"],
    ["2024-01-01 10:00", "2024-01-01T10:00:00.000Z"],
  ])(
    "when given %s without a zone, then it is read as UTC: %s",
    (input, expected) => {
      expect(iso(input)).toBe(expected);
    },
  );

  it("when given a number, then it is read as milliseconds since the epoch", () => {
    expect(iso(1_700_000_000_000)).toBe("2023-11-14T22:13:20.000Z");
  });

  it("when given a valid Date, then that Date is returned", () => {
    const date = new Date("2020-05-06T07:08:09Z");
    expect(parseSegmentTimestamp(date)).toBe(date);
  });

  it.each([
    ["a word", "not a date"],
    ["an empty string", ""],
    ["month 13", "2024-13-01"],
    ["a number string", "1700000000000"],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["a number beyond the Date range", 8.64e15 + 1],
    [
      "a year before 1 (PostgreSQL stops at 4713 BC)",
      "-000001-01-01T00:00:00Z",
    ],
    ["the earliest Date", -8.64e15],
    ["a year after 9999", "+010000-01-01T00:00:00Z"],
    ["Go's zero time (year 1)", "0001-01-01T00:00:00Z"],
    ["a time before 1970", "1969-12-31T23:59:59Z"],
    ["a year after 2999", "3000-01-01T00:00:00Z"],
    ["null", null],
    ["undefined", undefined],
    ["an object", {}],
    ["a boolean", true],
    ["an invalid Date", new Date("nonsense")],
  ])("when given %s, then it gives undefined", (_, input) => {
    expect(parseSegmentTimestamp(input)).toBeUndefined();
  });
});
