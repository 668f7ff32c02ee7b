import { describe, expect, it } from "vitest";
import { useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const ctx = useTestApp({
  rules: {
    settings: { categories: { news: { default: "in" } } },
    rules: [
      {
        id: "premium-launch",
        trigger: 'event = "Launch Announced"',
        audience: { where: 'traits.plan = "premium"' },
        category: "news",
        delivery: { quietHours: false },
        message: {
          title: "{{ event.properties.product }} is here",
          body: 'Early access for you, {{ profile.traits.name | default: "friend" }}',
        },
      },
    ],
  },
});

async function send(...events: Record<string, unknown>[]) {
  const response = await ctx.app.request("POST", "/v1/segment", {
    body: events.map((event) => ({ messageId: uniqueId("msg"), ...event })),
  });
  expect(response.status).toBe(200);
}

describe("an audience chosen by traits", () => {
  it("when the trigger fires, then every profile whose traits match is planned and no other", async () => {
    const premium = [uniqueId("p"), uniqueId("p"), uniqueId("p")];
    const basic = uniqueId("b");
    await send(
      ...premium.map((userId, i) => ({
        type: "identify",
        userId,
        traits: { plan: "premium", ...(i === 0 ? { name: "Ada" } : {}) },
        context: { device: { type: "ios", token: apnsToken() } },
      })),
      { type: "identify", userId: basic, traits: { plan: "basic" } },
    );
    await send({
      type: "track",
      userId: uniqueId("admin"),
      event: "Launch Announced",
      properties: { product: "Nudge 2" },
    });
    await ctx.app.deps.planner.drain();

    const rows = await ctx.database.db
      .selectFrom("notifications")
      .select(["user_id", "status", "content"])
      .where("rule_id", "=", "premium-launch")
      .execute();
    expect(rows.map((r) => r.user_id).sort()).toEqual([...premium].sort());
    expect(rows.every((r) => r.status === "pending")).toBe(true);
    const ada = rows.find((r) => r.user_id === premium[0]);
    expect(ada?.content).toMatchObject({
      title: "Nudge 2 is here",
      body: "Early access for you, Ada",
    });
  });
});
