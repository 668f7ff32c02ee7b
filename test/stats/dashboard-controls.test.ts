import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, runBrowserTests } from "../support/browser.ts";
import { dashboardRules, seedDashboard } from "../support/dashboard-seed.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";

// Code run in the page by page.evaluate: the browser's globals, untyped here, where
// the project's types are Node's.
declare const document: any;

const ctx = useTestApp({ rules: dashboardRules });

let browser: Browser | undefined;
beforeAll(async () => {
  if (!runBrowserTests) return;
  browser = await launchChromium();
  await seedDashboard(ctx.app, ctx.database);
});
afterAll(async () => {
  await browser?.close();
});

async function signedIn(path = "/", width = 1280) {
  if (browser === undefined) throw new Error("the browser did not start");
  const page = await browser.newPage({ viewport: { width, height: 800 } });
  await page.goto(`${ctx.app.baseUrl}${path}`);
  await page.fill("#token", ADMIN_TOKEN);
  await page.keyboard.press("Enter");
  await page.waitForSelector('article[data-rule="ping"]');
  return page;
}

async function pingEnabled(): Promise<boolean> {
  const { body } = await ctx.app.request("GET", "/v1/rules/ping", {
    admin: true,
  });
  return body.rule.enabled !== false;
}

const pingSwitch = 'article[data-rule="ping"] [data-switch="ping"]';

/**
 * Tabs through the page until every visible control has had the focus (or twice as
 * many presses as there are controls); answers the controls it never reached. Of a
 * group of radio buttons, Tab reaches the checked one and arrows move within it.
 */
async function unreachedByTab(page: Page): Promise<string[]> {
  await page.waitForSelector("#queue, #rule-detail");
  const total = await page.evaluate(() => {
    const controls = [
      ...document.querySelectorAll(
        "a[href], button, input, select, textarea, summary",
      ),
    ].filter(
      (c: any) =>
        c.getClientRects().length > 0 &&
        !(c.tagName === "INPUT" && c.type === "radio" && !c.checked),
    );
    controls.forEach((c, i) => (c.dataset.kb = String(i)));
    return controls.length;
  });
  // Sign-out, the range, each rule's link and switch: never a vacuous pass.
  expect(total).toBeGreaterThan(6);
  const reached = new Set<string>();
  for (let press = 0; press < 2 * total && reached.size < total; press++) {
    await page.keyboard.press("Tab");
    const kb = await page.evaluate(() => document.activeElement?.dataset.kb);
    if (kb !== undefined) reached.add(kb);
  }
  return page.evaluate(
    (seen) =>
      [...document.querySelectorAll("[data-kb]")]
        .filter((c) => !seen.includes(c.dataset.kb ?? ""))
        .map((c) => c.outerHTML.slice(0, 80)),
    [...reached],
  );
}

describe.runIf(runBrowserTests)(
  "the dashboard's controls (headless Chromium)",
  () => {
    it("when a rule is switched off and on again, then the rules API stores each change and the page shows it", async () => {
      const page = await signedIn();
      expect(await page.getAttribute(pingSwitch, "aria-checked")).toBe("true");
      await page.click(pingSwitch);
      await page.waitForSelector(`${pingSwitch}[aria-checked="false"]`);
      expect(
        await page.textContent('article[data-rule="ping"] .badge'),
      ).toContain("Off");
      expect(await pingEnabled()).toBe(false);

      // By keyboard: the focus stays on the switch, and Space turns it back on.
      await page.focus(pingSwitch);
      await page.keyboard.press("Space");
      await page.waitForSelector(`${pingSwitch}[aria-checked="true"]`);
      expect(await pingEnabled()).toBe(true);
      expect(
        await page.evaluate(() => document.activeElement?.dataset.switch),
      ).toBe("ping");
      await page.close();
    });

    it("when someone changed the rules since the page read them, then the switch changes nothing and says why", async () => {
      const page = await signedIn();
      const edited = await ctx.app.request("PUT", "/v1/rules/cart-reminder", {
        admin: true,
        body: {
          ...dashboardRules.rules[1],
          message: { title: "Edited", body: "Meanwhile" },
        },
      });
      expect(edited.status).toBe(200);

      await page.click(pingSwitch);
      await page.waitForSelector(
        "#switch-error-ping:has-text('someone edited the rules')",
      );
      expect(await pingEnabled()).toBe(true);
      expect(await page.getAttribute(pingSwitch, "aria-checked")).toBe("true");
      // The page read the rules anew: the next switch goes through.
      await page.click(pingSwitch);
      await page.waitForSelector(`${pingSwitch}[aria-checked="false"]`);
      expect(await pingEnabled()).toBe(false);
      await page.click(pingSwitch);
      await page.waitForSelector(`${pingSwitch}[aria-checked="true"]`);
      await page.close();
    });

    it("when the keyboard alone is used, then Tab reaches every control of the overview and of a rule, at laptop and phone width", async () => {
      for (const width of [1280, 390]) {
        const overview = await signedIn("/", width);
        expect(await unreachedByTab(overview)).toEqual([]);
        await overview.close();

        const rule = await signedIn("/#rule/ping", width);
        await rule.waitForSelector("#rule-detail [data-variants] table");
        expect(await unreachedByTab(rule)).toEqual([]);
        // The range's presets are one radio group: arrows move through it.
        await rule.focus('input[name="preset"]:checked');
        await rule.keyboard.press("ArrowRight");
        await rule.waitForSelector("#window:has-text('per day')");
        expect(await rule.isChecked('input[name="preset"][value="30d"]')).toBe(
          true,
        );
        await rule.close();
      }
    });
  },
);
