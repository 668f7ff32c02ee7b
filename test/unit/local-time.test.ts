import { formatInTimeZone } from "date-fns-tz";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  endOfDailySpan,
  formatLocalMinute,
  isKnownTimezone,
  localTimeToInstant,
  type DailySpan,
} from "../../src/rules/local-time.ts";

const NIGHT: DailySpan = { start: 21 * 60, end: 8 * 60 };
const LUNCH: DailySpan = { start: 13 * 60, end: 14 * 60 };

function at(iso: string): Date {
  return new Date(iso);
}

describe("endOfDailySpan: quiet hours that wrap midnight (21:00–08:00)", () => {
  it("when it is daytime, then the input comes back unchanged", () => {
    expect(endOfDailySpan(at("2026-06-01T12:00:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-01T12:00:00Z"),
    );
    expect(endOfDailySpan(at("2026-06-01T20:59:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-01T20:59:00Z"),
    );
  });

  it("when it is late evening, then the message waits until 08:00 the next morning", () => {
    expect(endOfDailySpan(at("2026-06-01T22:30:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-02T08:00:00Z"),
    );
    expect(endOfDailySpan(at("2026-06-01T21:00:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-02T08:00:00Z"),
    );
  });

  it("when it is after midnight, then the message waits until 08:00 the same morning", () => {
    expect(endOfDailySpan(at("2026-06-02T03:15:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-02T08:00:00Z"),
    );
  });

  it("when it is exactly the end of the window, then the message is not held", () => {
    expect(endOfDailySpan(at("2026-06-02T08:00:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-02T08:00:00Z"),
    );
  });

  it("when the window ends at the turn of a month or year, then the next day is the right date", () => {
    expect(endOfDailySpan(at("2026-02-28T23:00:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-03-01T08:00:00Z"),
    );
    expect(endOfDailySpan(at("2026-12-31T22:00:00Z"), NIGHT, "UTC")).toEqual(
      at("2027-01-01T08:00:00Z"),
    );
  });
});

describe("endOfDailySpan: quiet hours within one day (13:00–14:00)", () => {
  it("when it is inside the window, then the message waits until 14:00 that day", () => {
    expect(endOfDailySpan(at("2026-06-01T13:30:00Z"), LUNCH, "UTC")).toEqual(
      at("2026-06-01T14:00:00Z"),
    );
  });

  it("when it is before, at the end of, or after the window, then the input comes back", () => {
    for (const time of ["12:59", "14:00", "22:00", "03:00"]) {
      const input = at(`2026-06-01T${time}:00Z`);
      expect(endOfDailySpan(input, LUNCH, "UTC"), time).toEqual(input);
    }
  });
});

describe("endOfDailySpan: the user's timezone", () => {
  it("when it is evening in Berlin but not in UTC, then the Berlin window applies", () => {
    // 19:30Z is 21:30 in Berlin (CEST, UTC+2): quiet until 08:00 CEST = 06:00Z.
    expect(
      endOfDailySpan(at("2026-06-01T19:30:00Z"), NIGHT, "Europe/Berlin"),
    ).toEqual(at("2026-06-02T06:00:00Z"));
    expect(endOfDailySpan(at("2026-06-01T19:30:00Z"), NIGHT, "UTC")).toEqual(
      at("2026-06-01T19:30:00Z"),
    );
  });

  it("when it is past midnight UTC but evening in New York, then the end is the next New York morning", () => {
    // 02:00Z on June 2 is 22:00 EDT on June 1: quiet until 08:00 EDT on June 2 = 12:00Z.
    expect(
      endOfDailySpan(at("2026-06-02T02:00:00Z"), NIGHT, "America/New_York"),
    ).toEqual(at("2026-06-02T12:00:00Z"));
  });

  it("when there are no quiet hours, or start equals end, then nothing is held", () => {
    const input = at("2026-06-01T23:00:00Z");
    expect(endOfDailySpan(input, undefined, "UTC")).toEqual(input);
    expect(endOfDailySpan(input, { start: 480, end: 480 }, "UTC")).toEqual(
      input,
    );
    expect(
      endOfDailySpan(
        at("2026-06-01T08:00:00Z"),
        { start: 480, end: 480 },
        "UTC",
      ),
    ).toEqual(at("2026-06-01T08:00:00Z"));
  });
});

describe("endOfDailySpan: nights when the clocks change", () => {
  it("when Berlin springs forward (2026-03-29), then the window ends at 08:00 CEST = 06:00Z", () => {
    // 22:00 CET on the 28th, and 01:30 CET just before the jump.
    expect(
      endOfDailySpan(at("2026-03-28T21:00:00Z"), NIGHT, "Europe/Berlin"),
    ).toEqual(at("2026-03-29T06:00:00Z"));
    expect(
      endOfDailySpan(at("2026-03-29T00:30:00Z"), NIGHT, "Europe/Berlin"),
    ).toEqual(at("2026-03-29T06:00:00Z"));
  });

  it("when Berlin falls back (2026-10-25), then the window ends at 08:00 CET = 07:00Z", () => {
    // 22:00 CEST on the 24th, and 02:30 in both passes of the repeated hour.
    for (const input of [
      "2026-10-24T20:00:00Z",
      "2026-10-25T00:30:00Z",
      "2026-10-25T01:30:00Z",
    ]) {
      expect(endOfDailySpan(at(input), NIGHT, "Europe/Berlin"), input).toEqual(
        at("2026-10-25T07:00:00Z"),
      );
    }
  });

  it("when the window ends at a time New York skips (02:30 on 2026-03-08), then it ends when the clocks jump, 03:00 EDT = 07:00Z", () => {
    const untilHalfPastTwo: DailySpan = { start: 21 * 60, end: 2 * 60 + 30 };
    // 23:00 EST on the 7th, and 01:45 EST just before the jump.
    expect(
      endOfDailySpan(
        at("2026-03-08T04:00:00Z"),
        untilHalfPastTwo,
        "America/New_York",
      ),
    ).toEqual(at("2026-03-08T07:00:00Z"));
    expect(
      endOfDailySpan(
        at("2026-03-08T06:45:00Z"),
        untilHalfPastTwo,
        "America/New_York",
      ),
    ).toEqual(at("2026-03-08T07:00:00Z"));
  });

  it("when quiet hours end at a time the clocks repeat, then they end the first time the clock reads it after the input, in every zone", () => {
    // date-fns-tz reads a repeated time as its first pass in New York and as its
    // second in Berlin; neither may hold a message past the first reading.
    const untilHalfPastOne: DailySpan = { start: 21 * 60, end: 90 };
    const untilHalfPastTwo: DailySpan = { start: 21 * 60, end: 150 };
    const cases = [
      // 23:00 EDT, and 01:10 EDT in the first pass: 01:30 EDT.
      [
        "2026-11-01T03:00:00Z",
        untilHalfPastOne,
        "America/New_York",
        "2026-11-01T05:30:00Z",
      ],
      [
        "2026-11-01T05:10:00Z",
        untilHalfPastOne,
        "America/New_York",
        "2026-11-01T05:30:00Z",
      ],
      // 01:10 EST in the second pass: 01:30 EST.
      [
        "2026-11-01T06:10:00Z",
        untilHalfPastOne,
        "America/New_York",
        "2026-11-01T06:30:00Z",
      ],
      // 02:10 CEST in the first pass: 02:30 CEST; 02:10 CET in the second: 02:30 CET.
      [
        "2026-10-25T00:10:00Z",
        untilHalfPastTwo,
        "Europe/Berlin",
        "2026-10-25T00:30:00Z",
      ],
      [
        "2026-10-25T01:10:00Z",
        untilHalfPastTwo,
        "Europe/Berlin",
        "2026-10-25T01:30:00Z",
      ],
    ] as const;
    for (const [input, quiet, zone, end] of cases) {
      expect(
        endOfDailySpan(at(input), quiet, zone),
        `${zone} ${input}`,
      ).toEqual(at(end));
    }
  });

  describe("when the server itself runs far from UTC", () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it("when the process timezone is UTC+14, then the next morning is still the user's next morning", () => {
      // Date arithmetic must not depend on the zone the server happens to run in.
      vi.stubEnv("TZ", "Pacific/Kiritimati");
      expect(
        endOfDailySpan(at("2026-03-28T21:00:00Z"), NIGHT, "Europe/Berlin"),
      ).toEqual(at("2026-03-29T06:00:00Z"));
      vi.stubEnv("TZ", "Etc/GMT+12");
      expect(endOfDailySpan(at("2026-06-01T22:30:00Z"), NIGHT, "UTC")).toEqual(
        at("2026-06-02T08:00:00Z"),
      );
    });
  });
});

describe("localTimeToInstant", () => {
  it("when the local time happens once, then it is that instant", () => {
    expect(localTimeToInstant("2026-06-01 08:00", "Europe/Berlin")).toEqual(
      at("2026-06-01T06:00:00Z"),
    );
    expect(localTimeToInstant("2026-01-15 08:00", "Europe/Berlin")).toEqual(
      at("2026-01-15T07:00:00Z"),
    );
    expect(localTimeToInstant("2026-06-01 08:00", "America/New_York")).toEqual(
      at("2026-06-01T12:00:00Z"),
    );
    expect(localTimeToInstant("2026-06-01 23:59", "UTC")).toEqual(
      at("2026-06-01T23:59:00Z"),
    );
  });

  it("when the clocks skip the local time, then it is the instant they jump to", () => {
    expect(localTimeToInstant("2026-03-08 02:30", "America/New_York")).toEqual(
      at("2026-03-08T07:00:00Z"),
    );
    expect(localTimeToInstant("2026-03-29 02:30", "Europe/Berlin")).toEqual(
      at("2026-03-29T01:00:00Z"),
    );
    expect(localTimeToInstant("2026-03-29 02:00", "Europe/Berlin")).toEqual(
      at("2026-03-29T01:00:00Z"),
    );
  });

  it("when the clocks repeat the local time, then it is one of the two instants that read that time", () => {
    const cases = [
      {
        local: "2026-11-01 01:30",
        zone: "America/New_York",
        readings: [at("2026-11-01T05:30:00Z"), at("2026-11-01T06:30:00Z")],
      },
      {
        local: "2026-10-25 02:30",
        zone: "Europe/Berlin",
        readings: [at("2026-10-25T00:30:00Z"), at("2026-10-25T01:30:00Z")],
      },
    ];
    for (const { local, zone, readings } of cases) {
      const instant = localTimeToInstant(local, zone);
      expect(readings, local).toContainEqual(instant);
      expect(formatInTimeZone(instant, zone, "yyyy-MM-dd HH:mm")).toBe(local);
    }
  });
});

describe("formatLocalMinute", () => {
  it("when instants fall around DST changes and odd offsets, then it reads what date-fns-tz reads", () => {
    const zones = [
      "UTC",
      "Europe/Berlin",
      "America/New_York",
      "Australia/Lord_Howe",
      "Pacific/Chatham",
      "Asia/Kolkata",
      "America/St_Johns",
    ];
    const changes = [
      "2026-03-08T06:00:00Z",
      "2026-03-29T00:30:00Z",
      "2026-04-05T14:30:00Z",
      "2026-10-25T00:30:00Z",
      "2026-11-01T05:30:00Z",
      "2026-12-31T23:30:00Z",
    ];
    for (const zone of zones) {
      for (const change of changes) {
        for (let minutes = -90; minutes <= 90; minutes += 7) {
          const instant = new Date(Date.parse(change) + minutes * 60_000);
          expect(
            formatLocalMinute(instant, zone),
            `${zone} ${instant.toISOString()}`,
          ).toBe(formatInTimeZone(instant, zone, "yyyy-MM-dd HH:mm"));
        }
      }
    }
  });

  it("when it is midnight, then the hour reads 00, never 24", () => {
    expect(formatLocalMinute(at("2026-06-01T22:00:00Z"), "Europe/Berlin")).toBe(
      "2026-06-02 00:00",
    );
  });
});

describe("isKnownTimezone", () => {
  it("when given IANA names, then they are known", () => {
    expect(isKnownTimezone("Europe/Berlin")).toBe(true);
    expect(isKnownTimezone("America/New_York")).toBe(true);
    expect(isKnownTimezone("UTC")).toBe(true);
  });

  it("when given names that are not timezones, then they are unknown", () => {
    expect(isKnownTimezone("Mars/Olympus_Mons")).toBe(false);
    expect(isKnownTimezone("Berlin")).toBe(false);
    expect(isKnownTimezone("")).toBe(false);
  });
});
