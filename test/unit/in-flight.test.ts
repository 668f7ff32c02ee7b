import { describe, expect, it } from "vitest";
import type { InFlight } from "../../src/delivery/handoff.ts";
import type { FactsQuery } from "../../src/delivery/recipient.repository.ts";
import { withInFlight } from "../../src/delivery/in-flight.ts";
import { factsOf } from "../support/recipient-facts.ts";

const SINCE = new Date("2026-07-01T00:00:00Z");
const query = {
  ruleId: "sale",
  itemKey: "boots",
  globalCapSince: SINCE,
  ruleCapSince: SINCE,
  dedupeSince: SINCE,
} as FactsQuery;

describe("withInFlight", () => {
  it("when pushes are in flight, then the global cap counts all but the uncapped (silent) ones, the rule's cap and dedupe its own", () => {
    const flying: InFlight[] = [
      { ruleId: "sale", itemKey: "boots", uncapped: false },
      { ruleId: "refresh", itemKey: null, uncapped: true },
      { ruleId: "other", itemKey: null, uncapped: false },
    ];
    const [facts] = withInFlight([factsOf({ userId: "ada" })], query, (u) =>
      u === "ada" ? flying : [],
    );
    expect(facts).toMatchObject({
      recentTotal: 2,
      recentForRule: 1,
      duplicate: true,
    });
  });
});
