import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HOLDOUT, assignVariant } from "../../src/rules/variant.ts";
import { checkWinners } from "../../src/stats/auto-winner.service.ts";
import { twoProportionPValue } from "../../src/stats/significance.ts";
import { lookAlpha } from "../../src/stats/winner-decision.ts";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

/*
 * The auto-winner end to end: sends planted in the notifications table as delivery
 * would have written them, the background check run by hand at chosen times, and new
 * recipients planned through the real intake and planner.
 */

const variants = [
  { id: "a", weight: 50 },
  { id: "b", weight: 50, message: { title: "Bold B" } },
];
const HOLDOUT_SHARE = 0.1;
const promoRule = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  trigger: `event = "${id}"`,
  delivery: { quietHours: false },
  message: { title: "Plain A", body: "News" },
  variants,
  holdout: HOLDOUT_SHARE,
  autoWinner: { metric: "open", minSent: 100, window: "1h" },
  ...extra,
});

const ctx = useTestApp({
  rules: { rules: [promoRule("promo"), promoRule("close-call")] },
});

const NOON = new Date("2026-07-01T12:00:00Z");
const minutes = (n: number) => new Date(NOON.getTime() + n * 60_000);

const ruleOf = (id: string) => {
  const rule = ctx.app.deps.rules.current().rules.find((r) => r.id === id);
  if (rule === undefined) throw new Error(`no rule ${id}`);
  return rule;
};

/** Pushes of one variant sent at `sentAt`, `opened` of them opened 10 minutes later. */
async function plantSends(
  ruleId: string,
  variant: string,
  sends: { count: number; opened: number; sentAt: Date },
) {
  const { version } = ruleOf(ruleId);
  const rows = Array.from({ length: sends.count }, (_, index) => ({
    user_id: uniqueId("planted"),
    notification_id: randomUUID(),
    match_id: randomUUID(),
    rule_id: ruleId,
    rule_version: version,
    variant,
    status: "sent",
    send_at: sends.sentAt,
    sent_at: sends.sentAt,
    opened_at:
      index < sends.opened
        ? new Date(sends.sentAt.getTime() + 10 * 60_000)
        : null,
    content: JSON.stringify({ title: "planted" }),
    created_at: sends.sentAt,
    updated_at: sends.sentAt,
  }));
  await ctx.database.db.insertInto("notifications").values(rows).execute();
}

/** A new user with a phone in the arm `arm` of the rule's weights. */
async function newUserIn(ruleId: string, arm: string): Promise<string> {
  let userId: string;
  do userId = uniqueId("user");
  while (assignVariant(ruleId, userId, variants, HOLDOUT_SHARE) !== arm);
  await post({
    type: "identify",
    userId,
    context: { device: { type: "ios", token: apnsToken() } },
  });
  return userId;
}

async function post(event: Record<string, unknown>) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: { messageId: uniqueId("msg"), ...event },
  });
  expect(response.status).toBe(200);
}

/** Triggers the rule for `userId` and plans it; returns the variant planned and its title. */
async function planFor(ruleId: string, userId: string) {
  await post({ type: "track", userId, event: ruleId });
  await ctx.app.deps.planner.drain();
  const row = await ctx.database.db
    .selectFrom("notifications")
    .select(["variant", "reason", "content"])
    .where("user_id", "=", userId)
    .where("rule_id", "=", ruleId)
    .executeTakeFirstOrThrow();
  const content = row.content as { title?: string } | null;
  return { variant: row.variant, reason: row.reason, title: content?.title };
}

const check = (at: Date) =>
  checkWinners(ctx.database.db, ctx.app.deps.rules.current(), at);

const admin = (method: string, path: string, body?: unknown) =>
  ctx.app.request(method, path, { admin: true, body });

describe("autoWinner", () => {
  it("when a planted significant difference reaches minSent and its window passes, then new recipients get the winner, and not before", async () => {
    ctx.app.setNow(minutes(300));
    // 10% against 60% opens: significant at any level, but "a" is one send short.
    await plantSends("promo", "a", { count: 99, opened: 10, sentAt: NOON });
    await plantSends("promo", "b", { count: 100, opened: 60, sentAt: NOON });
    expect(await check(minutes(300))).toEqual([]);
    expect((await admin("GET", "/v1/rules/promo")).body.winner).toBeNull();
    const early = await newUserIn("promo", "a");
    expect(await planFor("promo", early)).toMatchObject({
      variant: "a",
      title: "Plain A",
    });

    // The 100th send of "a" at 13:00: the look's pushes have until 14:00 to be opened.
    await plantSends("promo", "a", {
      count: 1,
      opened: 0,
      sentAt: minutes(60),
    });
    // Sent after the look's cutoff: not counted, whatever became of them.
    await plantSends("promo", "b", {
      count: 50,
      opened: 0,
      sentAt: minutes(61),
    });
    expect(await check(minutes(119))).toEqual([]);
    const [decided] = await check(minutes(120));
    expect(decided).toMatchObject({ ruleId: "promo", variant: "b" });
    // Checked again, by this or another process: the first outcome stands.
    expect(await check(minutes(180))).toEqual([]);

    const pValue = twoProportionPValue(60, 100, 10, 100);
    const winner = {
      variant: "b",
      decidedAt: minutes(120).toISOString(),
      metric: "open",
      ruleVersion: ruleOf("promo").version,
      figures: {
        test: "two-proportion z-test",
        look: 1,
        looks: 4,
        sentUntil: minutes(60).toISOString(),
        alpha: lookAlpha(0.95, 2),
        pValue,
        variants: [
          { variant: "a", sent: 100, successes: 10, rate: 0.1, pValue: null },
          { variant: "b", sent: 100, successes: 60, rate: 0.6, pValue },
        ],
      },
    };
    expect((await admin("GET", "/v1/rules/promo")).body.winner).toEqual(winner);
    const stats = await admin(
      "GET",
      "/v1/stats?ruleId=promo&groupBy=variant&from=2026-07-01&to=2026-07-02",
    );
    expect(stats.body.winner).toEqual(winner);

    const late = await newUserIn("promo", "a");
    expect(await planFor("promo", late)).toMatchObject({
      variant: "b",
      title: "Bold B",
    });
    const held = await newUserIn("promo", HOLDOUT);
    expect(await planFor("promo", held)).toMatchObject({
      variant: HOLDOUT,
      reason: "holdout",
    });
    const preview = await admin("POST", "/v1/rules/promo/preview", {
      event: { type: "track", event: "promo", userId: late },
    });
    expect(preview.body.recipients[0]).toMatchObject({ variant: "b" });
  });

  it("when the rule is changed after a winner, then the new version starts a new test and users are back in their own arm", async () => {
    const changed = promoRule("promo", {
      message: { title: "Plain A, again", body: "News" },
    });
    const put = await admin("PUT", "/v1/rules/promo", changed);
    expect(put.status).toBe(200);
    expect(put.body.winner).toBeNull();
    expect((await admin("GET", "/v1/rules/promo")).body.winner).toBeNull();
    const user = await newUserIn("promo", "a");
    expect(await planFor("promo", user)).toMatchObject({
      variant: "a",
      title: "Plain A, again",
    });
  });

  it("when the difference is significant only at the uncorrected level, then no variant is promoted", async () => {
    // 20% against 33% opens of 100 each: p ≈ 0.037, under 0.05, over 0.0125.
    const p = twoProportionPValue(33, 100, 20, 100) ?? 0;
    expect(p).toBeLessThan(0.05);
    expect(p).toBeGreaterThan(lookAlpha(0.95, 2));
    await plantSends("close-call", "a", {
      count: 100,
      opened: 20,
      sentAt: NOON,
    });
    await plantSends("close-call", "b", {
      count: 100,
      opened: 33,
      sentAt: NOON,
    });
    ctx.app.setNow(minutes(600));
    expect(await check(minutes(600))).toEqual([]);
    expect((await admin("GET", "/v1/rules/close-call")).body.winner).toBeNull();
    const user = await newUserIn("close-call", "a");
    expect(await planFor("close-call", user)).toMatchObject({ variant: "a" });
  });
});
