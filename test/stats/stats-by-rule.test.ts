import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const rules = {
  rules: ["alpha", "beta"].map((id) => ({
    id,
    trigger: `event = "${id}"`,
    delivery: { quietHours: false },
    message: { title: "Hi", body: "There" },
  })),
};

const ctx = useTestApp({ rules });

const at = (iso: string) => new Date(iso);

async function send(...events: Record<string, unknown>[]) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((e) => ({ messageId: uniqueId("msg"), ...e })),
  });
  expect(response.body.rejected).toEqual([]);
}

/** `count` new users with a phone each trigger `ruleId` at `time`; all pushes go out. */
async function trigger(ruleId: string, time: string, count: number) {
  ctx.app.setNow(at(time));
  const users = Array.from({ length: count }, () => uniqueId("user"));
  await send(
    ...users.map((userId) => ({
      type: "identify",
      userId,
      context: { device: { type: "ios", token: apnsToken() } },
    })),
    ...users.map((userId) => ({
      type: "track",
      event: ruleId,
      userId,
      timestamp: time,
    })),
  );
  await ctx.app.deps.planner.drain();
  await ctx.app.deps.delivery.drain();
}

async function stats(query: string) {
  const response = await ctx.app.request("GET", `/v1/stats?${query}`, {
    admin: true,
  });
  expect(response.status).toBe(200);
  return response.body;
}

type Group = { ruleId?: string; group: string; sent: number };
const figures = (groups: Group[]) =>
  groups.map((g) => [g.ruleId, g.group, g.sent]);

describe("GET /v1/stats by rule and by hour", () => {
  it("when two rules sent over two days, then one query answers each rule's days, hours and totals", async () => {
    // A window of its own, so that other tests' notifications stay out.
    await trigger("alpha", "2031-03-01T09:15:00Z", 2);
    await trigger("alpha", "2031-03-02T10:40:00Z", 1);
    await trigger("beta", "2031-03-01T09:50:00Z", 3);
    // A partial hour at the window's end is counted too.
    await trigger("beta", "2031-03-02T23:10:00Z", 1);
    const window = "from=2031-03-01&to=2031-03-02T23:30:00Z";

    const byRuleAndDay = await stats(`${window}&groupBy=rule,day`);
    expect(byRuleAndDay.groupBy).toBe("rule,day");
    expect(figures(byRuleAndDay.groups)).toEqual([
      ["alpha", "2031-03-01", 2],
      ["alpha", "2031-03-02", 1],
      ["beta", "2031-03-01", 3],
      ["beta", "2031-03-02", 1],
    ]);

    const byRule = await stats(`${window}&groupBy=rule`);
    expect(figures(byRule.groups)).toEqual([
      ["alpha", "alpha", 3],
      ["beta", "beta", 4],
    ]);

    const byHour = await stats(`${window}&groupBy=hour&ruleId=beta`);
    expect(figures(byHour.groups)).toEqual([
      [undefined, "2031-03-01T09:00:00Z", 3],
      [undefined, "2031-03-02T23:00:00Z", 1],
    ]);

    const byRuleAndHour = await stats(`${window}&groupBy=rule,hour`);
    expect(figures(byRuleAndHour.groups)).toEqual([
      ["alpha", "2031-03-01T09:00:00Z", 2],
      ["alpha", "2031-03-02T10:00:00Z", 1],
      ["beta", "2031-03-01T09:00:00Z", 3],
      ["beta", "2031-03-02T23:00:00Z", 1],
    ]);
  });

  it("when the grouping is not one of the listed ones, then 400 invalid_query names them", async () => {
    for (const groupBy of ["day,rule", "rule,rule", "rule,", "minute"]) {
      const response = await ctx.app.request(
        "GET",
        `/v1/stats?groupBy=${groupBy}`,
        { admin: true },
      );
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("invalid_query");
      expect(response.body.error.message).toContain("rule,day");
    }
  });
});
