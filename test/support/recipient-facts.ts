import type { RecipientFacts } from "../../src/rules/policy.ts";

/** What the policy knows of a recipient with nothing in the way: Ada, one iPhone. */
export function factsOf(
  overrides: Partial<RecipientFacts> = {},
): RecipientFacts {
  return {
    userId: "user-1",
    traits: { first_name: "Ada" },
    locale: null,
    timezone: null,
    optedOut: false,
    devices: [{ platform: "apns", locale: null }],
    categoryChoice: undefined,
    recentTotal: 0,
    recentForRule: 0,
    duplicate: false,
    item: undefined,
    ...overrides,
  };
}
