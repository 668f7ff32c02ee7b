import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, runBrowserTests } from "../support/browser.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const rules = {
  rules: [
    {
      id: "ping",
      trigger: 'event = "Ping"',
      delivery: { quietHours: false },
      message: { title: "Hi", body: "There" },
      variants: [
        { id: "a", weight: 50 },
        { id: "b", weight: 50 },
      ],
      conversion: { event: "Order Completed", within: "1h" },
    },
  ],
};

const ctx = useTestApp({ rules });

let browser: Browser | undefined;
let dir: string;
beforeAll(async () => {
  if (!runBrowserTests) return;
  dir = await mkdtemp(join(tmpdir(), "nudge-dashboard-"));
  browser = await launchChromium();
});
afterAll(async () => {
  if (!runBrowserTests) return;
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(runBrowserTests)("the dashboard (headless Chromium)", () => {
  it("when the admin signs in, then it shows each rule's funnel, its variants side by side and the queue's health", async () => {
    // Four users sent a ping today; one of them taps it.
    const users = Array.from({ length: 4 }, () => uniqueId("user"));
    await ctx.app.request("POST", "/v1/segment", {
      body: users.flatMap((userId) => [
        {
          type: "identify",
          userId,
          messageId: uniqueId("m"),
          context: { device: { type: "ios", token: apnsToken() } },
        },
        { type: "track", event: "Ping", userId, messageId: uniqueId("m") },
      ]),
    });
    await ctx.app.deps.planner.drain();
    await ctx.app.deps.delivery.drain();
    const [tapped] = await ctx.database.db
      .selectFrom("notifications")
      .select(["user_id", "notification_id"])
      .where("user_id", "=", users[0] ?? "")
      .execute();
    await ctx.app.request("POST", "/v1/segment", {
      body: {
        type: "track",
        event: "Push Notification Tapped",
        userId: tapped?.user_id,
        messageId: uniqueId("m"),
        properties: { nudge_id: tapped?.notification_id },
      },
    });

    if (browser === undefined) throw new Error("the browser did not start");
    const page = await browser.newPage({
      viewport: { width: 1200, height: 800 },
    });
    await page.goto(`${ctx.app.baseUrl}/`);
    // Without the token: a sign-in form and no data.
    await page.waitForSelector("#sign-in:not([hidden])");
    expect(await page.isHidden("#rules")).toBe(true);

    await page.fill("#token", "not-the-token");
    await page.click("#sign-in button");
    await page.waitForSelector(
      "#sign-in-error:has-text('not the admin token')",
    );

    await page.fill("#token", ADMIN_TOKEN);
    await page.click("#sign-in button");
    await page.waitForSelector('article[data-rule="ping"]');
    const step = (name: string) =>
      page.textContent(`article[data-rule="ping"] [data-step="${name}"] .num`);
    expect(await step("triggered")).toBe("4");
    expect(await step("sent")).toBe("4");
    expect(await step("opened")).toBe("1");
    const variants = await page.$$eval(
      'article[data-rule="ping"] tr[data-variant]',
      (rows) => rows.map((row) => row.getAttribute("data-variant")),
    );
    expect(variants.length).toBeGreaterThan(0);
    expect(variants.every((v) => v === "a" || v === "b")).toBe(true);
    await page.waitForSelector("#queue:not([hidden])");
    expect(await page.textContent("#queue")).toContain("Due, not yet claimed");

    const screenshot = join(dir, "dashboard.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = await readFile(screenshot);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.length).toBeGreaterThan(10_000);
    await page.close();
  });
});
