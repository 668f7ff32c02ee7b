import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  foldChanges,
  type ResolvedEvent,
} from "../../src/ingest/event-profiles.ts";
import { parseSegmentEvent } from "../../src/ingest/segment-event.schema.ts";
import { compileRuleBook } from "../../src/rules/rule-book.ts";

const book = compileRuleBook(
  JSON.parse(readFileSync("examples/rules.json", "utf8")),
  "x",
);

let messages = 0;
function planned(input: Record<string, unknown>): ResolvedEvent {
  const result = parseSegmentEvent(
    { userId: "u1", messageId: `m${String(++messages)}`, ...input },
    new Date("2024-06-01T00:00:00Z"),
  );
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return { event: result.event, userId: "u1", barrier: undefined };
}

const chosen = (locale: string, timezone: string) =>
  planned({ type: "identify", traits: { locale, timezone } });
const browser = (locale: string, timezone: string) =>
  planned({
    type: "page",
    name: "Home",
    context: { locale, timezone },
  });

/** What one batch of calls leaves as the profile's timezone and locale. */
function folded(...events: ResolvedEvent[]) {
  const change = foldChanges(events, book).get("u1");
  return { timezone: change?.timezone, locale: change?.locale };
}

describe("timezone and locale precedence within one batch", () => {
  it("when a trait is followed by the browser's context, then the trait stays", () => {
    expect(
      folded(
        chosen("de-DE", "Europe/Berlin"),
        browser("en-US", "America/New_York"),
      ),
    ).toEqual({
      timezone: { value: "Europe/Berlin", source: "trait" },
      locale: { value: "de-DE", source: "trait" },
    });
  });

  it("when the browser's context is followed by a trait, then the trait wins", () => {
    expect(
      folded(
        browser("en-US", "America/New_York"),
        chosen("de-DE", "Europe/Berlin"),
      ),
    ).toEqual({
      timezone: { value: "Europe/Berlin", source: "trait" },
      locale: { value: "de-DE", source: "trait" },
    });
  });

  it("when one identify carries both, then its traits win over its context", () => {
    expect(
      folded(
        planned({
          type: "identify",
          traits: { locale: "de-DE" },
          context: { locale: "en-US", timezone: "America/New_York" },
        }),
      ),
    ).toEqual({
      timezone: { value: "America/New_York", source: "context" },
      locale: { value: "de-DE", source: "trait" },
    });
  });

  it("when only contexts follow each other, then the latest wins", () => {
    expect(
      folded(browser("en-US", "America/New_York"), browser("fr-FR", "UTC")),
    ).toEqual({
      timezone: { value: "UTC", source: "context" },
      locale: { value: "fr-FR", source: "context" },
    });
  });

  it("when traits follow each other, then the latest trait wins", () => {
    expect(
      folded(chosen("de-DE", "Europe/Berlin"), chosen("ja-JP", "Asia/Tokyo")),
    ).toEqual({
      timezone: { value: "Asia/Tokyo", source: "trait" },
      locale: { value: "ja-JP", source: "trait" },
    });
  });
});
