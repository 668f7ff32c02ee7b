import { describe, expect, it } from "vitest";
import {
  createProviderPauses,
  type PauseChange,
} from "../../src/delivery/provider-pause.ts";
import type { SendOutcome } from "../../src/providers/provider.ts";

const NOW = new Date("2026-07-01T12:00:00Z");
const at = (ms: number) => new Date(NOW.getTime() + ms);
const policy = {
  baseMs: 1_000,
  maxMs: 30_000,
  retryAfterMaxMs: 600_000,
  streak: 3,
};

const sent: SendOutcome = { kind: "sent" };
const dead: SendOutcome = { kind: "invalid_token", reason: "Unregistered" };
const timeout: SendOutcome = {
  kind: "retry",
  reason: "no answer",
  cause: "connection",
};
const busy: SendOutcome = { kind: "retry", reason: "503", cause: "server" };
const refused: SendOutcome = {
  kind: "retry",
  reason: "check the key",
  cause: "credentials",
};

/** Pauses of full length (random() = 1), with every change kept. */
function pausesFor() {
  const changes: PauseChange[] = [];
  const pauses = createProviderPauses({
    policy,
    onChange: (change) => changes.push(change),
    random: () => 1,
  });
  return { pauses, changes };
}

describe("provider pauses", () => {
  it("when a send gets no answer, then the service is paused and its pushes wait for the end of the pause", () => {
    const { pauses, changes } = pausesFor();

    const outage = pauses.observe("apns", timeout, NOW);

    expect(outage).toEqual({ until: at(1_000), reason: "no answer" });
    expect(pauses.admit("apns", at(999))).toEqual({
      kind: "paused",
      outage,
    });
    expect(changes).toEqual([
      {
        kind: "paused",
        service: "apns",
        cause: "connection",
        reason: "no answer",
        pauseMs: 1_000,
        pauses: 1,
      },
    ]);
  });

  it("when the credentials are refused, then the service is paused at once and says so", () => {
    const { pauses, changes } = pausesFor();

    expect(pauses.observe("fcm", refused, NOW)).toBeDefined();
    expect(changes[0]).toMatchObject({ cause: "credentials" });
  });

  it("when server errors come fewer than the streak in a row, then nothing is paused; a success in between starts the count again", () => {
    const { pauses } = pausesFor();

    expect(pauses.observe("fcm", busy, NOW)).toBeUndefined();
    expect(pauses.observe("fcm", busy, NOW)).toBeUndefined();
    pauses.observe("fcm", dead, NOW);
    expect(pauses.observe("fcm", busy, NOW)).toBeUndefined();
    expect(pauses.observe("fcm", busy, NOW)).toBeUndefined();
    expect(pauses.admit("fcm", NOW)).toEqual({ kind: "send" });

    expect(pauses.observe("fcm", busy, NOW)).toMatchObject({
      until: at(1_000),
    });
  });

  it("when sends in flight fail after the service went down, then they belong to the outage and do not lengthen it", () => {
    const { pauses, changes } = pausesFor();
    const first = pauses.observe("apns", timeout, NOW);

    expect(pauses.observe("apns", timeout, at(10))).toEqual(first);
    expect(pauses.observe("apns", busy, at(20))).toEqual(first);
    expect(changes).toHaveLength(1);
  });

  it("when the pause is over, then one push goes to see and the others wait for its answer; a success ends the outage", async () => {
    const { pauses, changes } = pausesFor();
    pauses.observe("apns", timeout, NOW);

    expect(pauses.admit("apns", at(1_000))).toEqual({ kind: "send" });
    const waiting = pauses.admit("apns", at(1_001));
    expect(waiting.kind).toBe("wait");
    expect(pauses.observe("apns", sent, at(1_050))).toBeUndefined();
    if (waiting.kind === "wait") await waiting.answered;

    expect(pauses.admit("apns", at(1_060))).toEqual({ kind: "send" });
    expect(changes.at(-1)).toEqual({
      kind: "resumed",
      service: "apns",
      downMs: 1_050,
    });
  });

  it("when the push that went to see fails, then the service is paused again for twice as long, up to the maximum", async () => {
    const { pauses } = pausesFor();
    let now = NOW.getTime();
    let outage = pauses.observe("apns", timeout, new Date(now));
    const lengths: number[] = [];
    for (let i = 0; i < 6; i++) {
      now = outage?.until.getTime() ?? now;
      expect(pauses.admit("apns", new Date(now))).toEqual({ kind: "send" });
      const waiting = pauses.admit("apns", new Date(now));
      outage = pauses.observe("apns", timeout, new Date(now + 5));
      if (waiting.kind === "wait") await waiting.answered;
      lengths.push((outage?.until.getTime() ?? 0) - now - 5);
    }

    expect(lengths).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it("when the provider asks for a longer wait, then its Retry-After is the pause, up to the most honoured", () => {
    const { pauses } = pausesFor();

    const outage = pauses.observe(
      "apns",
      { ...timeout, retryAfterMs: 120_000 },
      NOW,
    );
    expect(outage?.until).toEqual(at(120_000));

    const other = pauses.observe(
      "fcm",
      { ...refused, retryAfterMs: 86_400_000 },
      NOW,
    );
    expect(other?.until).toEqual(at(600_000));
  });

  it("when one service is down, then the others of the provider still send", () => {
    const { pauses } = pausesFor();
    pauses.observe("https://push.example", timeout, NOW);

    expect(pauses.admit("https://push.example", NOW).kind).toBe("paused");
    expect(pauses.admit("https://fcm.googleapis.com", NOW)).toEqual({
      kind: "send",
    });
  });
});
