import { describe, expect, it } from "vitest";
import { feedbackOf } from "../../src/stats/feedback.ts";

const track = (event: string, properties: Record<string, unknown> = {}) => ({
  type: "track",
  event,
  properties,
});

describe("feedbackOf", () => {
  it("when the event is a push feedback event, then its kind follows its name", () => {
    expect(
      [
        "Push Notification Received",
        "Push Notification Tapped",
        "Push Notification Bounced",
        "Push Delivered",
        "Push Opened",
      ].map((name) => feedbackOf(track(name))?.kind),
    ).toEqual(["received", "opened", "bounced", "received", "opened"]);
  });

  it("when the id is in any of the places apps put it, then it is found", () => {
    for (const properties of [
      { nudge_id: "n-1" },
      { campaign: { nudge_id: "n-1" } },
      { campaign: { id: "n-1", name: "sale" } },
      { data: { nudge_id: "n-1" } },
    ]) {
      expect(feedbackOf(track("Push Opened", properties))?.nudgeId).toBe("n-1");
    }
  });

  it("when the event names no notification, then it is feedback without an id", () => {
    expect(feedbackOf(track("Push Opened", { nudge_id: "" }))).toEqual({
      kind: "opened",
      nudgeId: undefined,
    });
  });

  it("when the event is Nudge's own report of a bounce, forwarded back by Segment, then it is none", () => {
    expect(
      feedbackOf({
        ...track("Push Notification Bounced", { nudge_id: "n-1" }),
        messageId: "nudge-failed-n-1",
      }),
    ).toBe(undefined);
    expect(
      feedbackOf({
        ...track("Push Notification Bounced", { nudge_id: "n-1" }),
        messageId: "ajs-next-1",
      })?.kind,
    ).toBe("bounced");
  });

  it("when the event is not push feedback, then it is none", () => {
    expect(feedbackOf(track("Order Completed", { nudge_id: "n-1" }))).toBe(
      undefined,
    );
    expect(
      feedbackOf({ type: "screen", event: undefined, properties: {} }),
    ).toBe(undefined);
  });
});
