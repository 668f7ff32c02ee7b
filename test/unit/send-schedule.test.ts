import { describe, expect, it } from "vitest";
import { placeInSpread, scheduleSend } from "../../src/rules/send-schedule.ts";
import { span, timing, window } from "../support/send-timing.ts";

const HOUR = 3_600_000;

function at(iso: string): Date {
  return new Date(iso);
}

const EVENING = window("18:00", "22:00");

describe("scheduleSend: delay, quiet hours and ttl", () => {
  const NIGHT = span("21:00", "08:00");

  it("when a delay ends outside the window, then both deferred it and the window's opening is the send time", () => {
    // 10:00 UTC plus 2h is noon: the 18:00 opening.
    expect(
      scheduleSend(
        at("2026-06-01T10:00:00Z"),
        timing({ delayMs: 2 * HOUR, window: EVENING }),
        "UTC",
      ),
    ).toEqual({
      sendAt: at("2026-06-01T18:00:00Z"),
      deferredBy: ["delay", "window"],
      spreadUntil: undefined,
    });
  });

  it("when a delay ends inside the window, then only the delay deferred it", () => {
    expect(
      scheduleSend(
        at("2026-06-01T17:30:00Z"),
        timing({ delayMs: HOUR, window: EVENING }),
        "UTC",
      ),
    ).toMatchObject({
      sendAt: at("2026-06-01T18:30:00Z"),
      deferredBy: ["delay"],
    });
  });

  it("when quiet hours begin inside the window, then the window ends for the message where they begin, and a later message waits a day", () => {
    const w = window("20:00", "23:00", true);
    const quiet = timing({ window: w, quietHours: NIGHT });
    expect(scheduleSend(at("2026-06-01T12:00:00Z"), quiet, "UTC")).toEqual({
      sendAt: at("2026-06-01T20:00:00Z"),
      deferredBy: ["window"],
      spreadUntil: at("2026-06-01T21:00:00Z"),
    });
    // 21:30 is in the window but quiet; 08:00 is outside the window; 20:00 is both fine.
    expect(
      scheduleSend(at("2026-06-01T21:30:00Z"), quiet, "UTC"),
    ).toMatchObject({
      sendAt: at("2026-06-02T20:00:00Z"),
      deferredBy: ["quiet_hours", "window"],
    });
  });

  it("when the window opens during quiet hours, then the message goes when they end", () => {
    const w = window("06:00", "12:00");
    expect(
      scheduleSend(
        at("2026-06-01T02:00:00Z"),
        timing({ window: w, quietHours: NIGHT }),
        "Europe/Berlin",
      ),
    ).toEqual({
      // 04:00 CEST: the window opens at 06:00 CEST, quiet hours end at 08:00 CEST.
      sendAt: at("2026-06-01T06:00:00Z"),
      deferredBy: ["window", "quiet_hours"],
      spreadUntil: undefined,
    });
  });

  it("when the window lies wholly in quiet hours (the rules refuse it), then the rounds stop and quiet hours win", () => {
    const { sendAt } = scheduleSend(
      at("2026-06-01T12:00:00Z"),
      timing({ window: window("22:00", "23:00"), quietHours: NIGHT }),
      "UTC",
    );
    expect(sendAt.getUTCHours()).toBe(8);
  });

  it("when the message expires inside the window, then the spread ends at its expiry; the ttl check is the caller's", () => {
    const w = window("18:00", "22:00", true);
    const expiring = (expiresAt: string) =>
      scheduleSend(
        at("2026-06-01T12:00:00Z"),
        timing({ window: w, expiresAt: at(expiresAt) }),
        "UTC",
      );
    expect(expiring("2026-06-01T19:00:00Z").spreadUntil).toEqual(
      at("2026-06-01T19:00:00Z"),
    );
    expect(expiring("2026-06-01T17:00:00Z")).toMatchObject({
      sendAt: at("2026-06-01T18:00:00Z"),
      spreadUntil: undefined,
    });
  });
});

describe("placeInSpread", () => {
  const spread = scheduleSend(
    at("2026-06-01T12:00:00Z"),
    timing({ window: window("18:00", "22:00", true) }),
    "UTC",
  );

  it("when fractions run from 0 to almost 1, then the send times run evenly from the opening to the close", () => {
    expect(placeInSpread(spread, 0).sendAt).toEqual(at("2026-06-01T18:00:00Z"));
    expect(placeInSpread(spread, 0.25).sendAt).toEqual(
      at("2026-06-01T19:00:00Z"),
    );
    expect(placeInSpread(spread, 0.5).sendAt).toEqual(
      at("2026-06-01T20:00:00Z"),
    );
    expect(
      placeInSpread(spread, 0.999999).sendAt < at("2026-06-01T22:00:00Z"),
    ).toBe(true);
  });

  it("when a message planned inside the window is spread, then it goes between now and the close, and the window deferred it", () => {
    const inside = scheduleSend(
      at("2026-06-01T20:00:00Z"),
      timing({ window: window("18:00", "22:00", true) }),
      "UTC",
    );
    expect(placeInSpread(inside, 0)).toEqual({
      sendAt: at("2026-06-01T20:00:00Z"),
      deferredBy: [],
    });
    expect(placeInSpread(inside, 0.5)).toEqual({
      sendAt: at("2026-06-01T21:00:00Z"),
      deferredBy: ["window"],
    });
  });

  it("when the window does not spread, then every fraction sends at the opening, in copies no two callers share", () => {
    const plain = scheduleSend(
      at("2026-06-01T12:00:00Z"),
      timing({ window: EVENING }),
      "UTC",
    );
    const first = placeInSpread(plain, 0.7);
    expect(first).toEqual({
      sendAt: at("2026-06-01T18:00:00Z"),
      deferredBy: ["window"],
    });
    first.sendAt.setTime(0);
    first.deferredBy.push("delay");
    expect(placeInSpread(plain, 0.7)).toEqual({
      sendAt: at("2026-06-01T18:00:00Z"),
      deferredBy: ["window"],
    });
  });
});
