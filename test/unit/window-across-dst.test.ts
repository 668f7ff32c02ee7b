import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeliveryWindow } from "../../src/rules/delivery-window.ts";
import { scheduleSend } from "../../src/rules/send-schedule.ts";
import { timing, window } from "../support/send-timing.ts";

/*
 * The window arithmetic: when a message planned at some instant is sent, by the clock of
 * the user's zone, on ordinary days and on the nights the clocks change, in zones of
 * both hemispheres and with a half-hour offset.
 */

function at(iso: string): Date {
  return new Date(iso);
}

const EVENING = window("18:00", "22:00");
const LATE = window("22:00", "02:00");

/** When a message planned at `planned` opens in `zone`, with only a window. */
function opening(planned: string, w: DeliveryWindow, zone: string): Date {
  return scheduleSend(at(planned), timing({ window: w }), zone).sendAt;
}

/** Where a spread window's time left ends, with only a window. */
function spreadUntil(planned: string, w: DeliveryWindow, zone: string) {
  return scheduleSend(at(planned), timing({ window: w }), zone).spreadUntil;
}

type Case = [planned: string, zone: string, sendAt: string];

function expectOpenings(w: DeliveryWindow, cases: readonly Case[]) {
  for (const [planned, zone, sendAt] of cases) {
    expect(opening(planned, w, zone), `${zone} ${planned}`).toEqual(at(sendAt));
  }
}

describe("scheduleSend: a window on ordinary days in four zones", () => {
  it("when a message is planned before, inside and after 18:00–22:00, then it waits for the opening, goes now, or waits for the next day's", () => {
    expectOpenings(EVENING, [
      // New York in summer (EDT, UTC-4): 08:00, 19:00, 22:30.
      ["2026-06-01T12:00:00Z", "America/New_York", "2026-06-01T22:00:00Z"],
      ["2026-06-01T23:00:00Z", "America/New_York", "2026-06-01T23:00:00Z"],
      ["2026-06-02T02:30:00Z", "America/New_York", "2026-06-02T22:00:00Z"],
      // Berlin in winter (CET, UTC+1): 11:00, 21:59, 22:00 (the close is not inside).
      ["2026-01-15T10:00:00Z", "Europe/Berlin", "2026-01-15T17:00:00Z"],
      ["2026-01-15T20:59:00Z", "Europe/Berlin", "2026-01-15T20:59:00Z"],
      ["2026-01-15T21:00:00Z", "Europe/Berlin", "2026-01-16T17:00:00Z"],
      // Sydney in its summer (AEDT, UTC+11) and its winter (AEST, UTC+10): 11:00, 10:00.
      ["2026-01-15T00:00:00Z", "Australia/Sydney", "2026-01-15T07:00:00Z"],
      ["2026-07-15T00:00:00Z", "Australia/Sydney", "2026-07-15T08:00:00Z"],
      // Kolkata (IST, UTC+5:30): 15:30, 18:00 sharp, 22:15.
      ["2026-06-01T10:00:00Z", "Asia/Kolkata", "2026-06-01T12:30:00Z"],
      ["2026-06-01T12:30:00Z", "Asia/Kolkata", "2026-06-01T12:30:00Z"],
      ["2026-06-01T16:45:00Z", "Asia/Kolkata", "2026-06-02T12:30:00Z"],
    ]);
  });

  it("when the window spans midnight (22:00–02:00), then late evening and early morning are inside and the afternoon waits for 22:00", () => {
    expectOpenings(LATE, [
      // Berlin in summer (CEST, UTC+2): 14:00, 23:30, 01:30 the next day, 02:30.
      ["2026-06-01T12:00:00Z", "Europe/Berlin", "2026-06-01T20:00:00Z"],
      ["2026-06-01T21:30:00Z", "Europe/Berlin", "2026-06-01T21:30:00Z"],
      ["2026-06-01T23:30:00Z", "Europe/Berlin", "2026-06-01T23:30:00Z"],
      ["2026-06-02T00:30:00Z", "Europe/Berlin", "2026-06-02T20:00:00Z"],
      // Kolkata: 22:30 is inside; at 02:00 IST it has closed until 22:00.
      ["2026-06-01T17:00:00Z", "Asia/Kolkata", "2026-06-01T17:00:00Z"],
      ["2026-06-01T20:30:00Z", "Asia/Kolkata", "2026-06-02T16:30:00Z"],
      // New Year's Eve in New York (EST): 23:00 on the 31st, inside across the year.
      ["2027-01-01T04:00:00Z", "America/New_York", "2027-01-01T04:00:00Z"],
    ]);
    expect(
      spreadUntil(
        "2026-06-01T17:00:00Z",
        { ...LATE, spread: true },
        "Asia/Kolkata",
      ),
    ).toEqual(at("2026-06-01T20:30:00Z"));
  });
});

describe("scheduleSend: a window on nights the clocks change", () => {
  it("when the window opens at a time the clocks skip (02:30), then it opens when they jump, in each hemisphere", () => {
    const early = window("02:30", "05:00", true);
    const cases = [
      // New York, 2026-03-08 02:00 EST → 03:00 EDT; planned at 00:00 EST.
      [
        "2026-03-08T05:00:00Z",
        "America/New_York",
        "2026-03-08T07:00:00Z",
        "2026-03-08T09:00:00Z",
      ],
      // Berlin, 2026-03-29 02:00 CET → 03:00 CEST; planned at 00:00 CET.
      [
        "2026-03-28T23:00:00Z",
        "Europe/Berlin",
        "2026-03-29T01:00:00Z",
        "2026-03-29T03:00:00Z",
      ],
      // Sydney, 2026-10-04 02:00 AEST → 03:00 AEDT; planned at 00:00 AEST.
      [
        "2026-10-03T14:00:00Z",
        "Australia/Sydney",
        "2026-10-03T16:00:00Z",
        "2026-10-03T18:00:00Z",
      ],
    ] as const;
    for (const [planned, zone, opens, closes] of cases) {
      const schedule = scheduleSend(
        at(planned),
        timing({ window: early }),
        zone,
      );
      // The window is two hours long that night, not two and a half.
      expect(schedule, zone).toEqual({
        sendAt: at(opens),
        deferredBy: ["window"],
        spreadUntil: at(closes),
      });
    }
  });

  it("when the window opens at a time the clocks repeat (01:30 or 02:30), then it opens the first time the clock reads it, and lasts the extra hour", () => {
    const cases = [
      // New York, 2026-11-01 02:00 EDT → 01:00 EST: 01:30–04:00 opens at 01:30 EDT
      // and closes at 04:00 EST, three and a half hours later.
      [
        window("01:30", "04:00", true),
        "2026-11-01T03:00:00Z",
        "America/New_York",
        "2026-11-01T05:30:00Z",
        "2026-11-01T09:00:00Z",
      ],
      // Berlin, 2026-10-25 03:00 CEST → 02:00 CET: 02:30–06:00 opens at 02:30 CEST.
      [
        window("02:30", "06:00", true),
        "2026-10-24T22:00:00Z",
        "Europe/Berlin",
        "2026-10-25T00:30:00Z",
        "2026-10-25T05:00:00Z",
      ],
      // Sydney, 2026-04-05 03:00 AEDT → 02:00 AEST: 02:30–05:00 opens at 02:30 AEDT.
      [
        window("02:30", "05:00", true),
        "2026-04-04T13:00:00Z",
        "Australia/Sydney",
        "2026-04-04T15:30:00Z",
        "2026-04-04T19:00:00Z",
      ],
    ] as const;
    for (const [w, planned, zone, opens, closes] of cases) {
      const schedule = scheduleSend(at(planned), timing({ window: w }), zone);
      expect(schedule.sendAt, zone).toEqual(at(opens));
      expect(schedule.spreadUntil, zone).toEqual(at(closes));
    }
  });

  it("when a message is planned in the repeated hour, then the clock it reads decides: inside in the first pass at 01:45, before the opening in the second at 01:10", () => {
    const w = window("01:30", "04:00");
    expectOpenings(w, [
      ["2026-11-01T05:45:00Z", "America/New_York", "2026-11-01T05:45:00Z"],
      ["2026-11-01T06:10:00Z", "America/New_York", "2026-11-01T06:30:00Z"],
    ]);
  });

  it("when a window spans midnight on a night the clocks change, then it lasts an hour less or more", () => {
    const night = window("23:00", "03:00", true);
    // New York springs forward: 23:00 EST to 03:00 EDT is three hours.
    expect(
      scheduleSend(
        at("2026-03-07T20:00:00Z"),
        timing({ window: night }),
        "America/New_York",
      ),
    ).toMatchObject({
      sendAt: at("2026-03-08T04:00:00Z"),
      spreadUntil: at("2026-03-08T07:00:00Z"),
    });
    // Berlin falls back: 23:00 CEST to 03:00 CET is five hours.
    expect(
      scheduleSend(
        at("2026-10-24T12:00:00Z"),
        timing({ window: night }),
        "Europe/Berlin",
      ),
    ).toMatchObject({
      sendAt: at("2026-10-24T21:00:00Z"),
      spreadUntil: at("2026-10-25T02:00:00Z"),
    });
    // Sydney's clocks fall back inside 22:00–02:00 only after it closes at 02:00 AEDT.
    expect(
      spreadUntil(
        "2026-04-04T12:00:00Z",
        { ...LATE, spread: true },
        "Australia/Sydney",
      ),
    ).toEqual(at("2026-04-04T15:00:00Z"));
  });

  describe("when the server runs far from UTC", () => {
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    it("when the process timezone is UTC+14, then the window still opens by the user's clock", () => {
      vi.stubEnv("TZ", "Pacific/Kiritimati");
      expect(
        opening("2026-06-01T12:00:00Z", EVENING, "America/New_York"),
      ).toEqual(at("2026-06-01T22:00:00Z"));
    });
  });
});
