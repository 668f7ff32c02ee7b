import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, runBrowserTests } from "../support/browser.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";
import { apnsToken, uniqueId } from "../support/test-database.ts";

const RULES = 50;
const rules = {
  rules: Array.from({ length: RULES }, (_, i) => ({
    id: `rule-${String(i).padStart(2, "0")}`,
    trigger: `event = "Event ${String(i)}"`,
    delivery: { quietHours: false },
    message: { title: "Hi", body: "There" },
  })),
};

const ctx = useTestApp({ rules });

let browser: Browser | undefined;
beforeAll(async () => {
  if (runBrowserTests) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.runIf(runBrowserTests)(
  "the dashboard with 50 rules (headless Chromium)",
  () => {
    it("when the overview shows 50 rules, then it asks for the stats once and for what waits once, not once per rule", async () => {
      const userId = uniqueId("user");
      await ctx.app.request("POST", "/v1/segment", {
        body: [
          {
            type: "identify",
            userId,
            messageId: uniqueId("m"),
            context: { device: { type: "ios", token: apnsToken() } },
          },
          ...[0, 7, 49].map((i) => ({
            type: "track",
            event: `Event ${String(i)}`,
            userId,
            messageId: uniqueId("m"),
          })),
        ],
      });
      await ctx.app.deps.planner.drain();
      await ctx.app.deps.delivery.drain();

      if (browser === undefined) throw new Error("the browser did not start");
      const page = await browser.newPage({
        viewport: { width: 1280, height: 800 },
      });
      const asked: string[] = [];
      page.on("request", (request) => {
        const { pathname } = new URL(request.url());
        if (pathname.startsWith("/v1/")) asked.push(pathname);
      });
      await page.goto(`${ctx.app.baseUrl}/`);
      await page.fill("#token", ADMIN_TOKEN);
      await page.click("#sign-in button");
      await page.waitForSelector('article[data-rule="rule-49"]');

      expect(
        await page.$$eval("article[data-rule]", (cards) => cards.length),
      ).toBe(RULES);
      expect(asked.sort()).toEqual([
        "/v1/notifications/waiting",
        "/v1/rules",
        "/v1/stats",
      ]);
      for (const id of ["rule-00", "rule-07", "rule-49"])
        expect(
          await page.textContent(
            `article[data-rule="${id}"] [data-step="sent"] .num`,
          ),
        ).toBe("1");
      expect(
        await page.textContent(
          'article[data-rule="rule-01"] [data-step="sent"] .num',
        ),
      ).toBe("0");
      await page.close();
    });
  },
);
