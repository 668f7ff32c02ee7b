import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, runBrowserTests } from "../support/browser.ts";
import { lowContrastTexts } from "../support/contrast.ts";
import { dashboardRules, seedDashboard } from "../support/dashboard-seed.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";

// Code run in the page by page.evaluate: the browser's globals, untyped here, where
// the project's types are Node's.
declare const document: any, window: any;

const ctx = useTestApp({ rules: dashboardRules });

/** Where the run leaves its screenshots for review (git-ignored). */
const SHOTS = fileURLToPath(
  new URL("../../test-results/dashboard/", import.meta.url),
);
const VIEWPORTS = [
  ["laptop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
] as const;

let browser: Browser | undefined;
beforeAll(async () => {
  if (!runBrowserTests) return;
  await mkdir(SHOTS, { recursive: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** A page signed in to the dashboard; any script error in it fails the test. */
async function signedIn(viewport: { width: number; height: number }) {
  if (browser === undefined) throw new Error("the browser did not start");
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${ctx.app.baseUrl}/`);
  await page.fill("#token", ADMIN_TOKEN);
  await page.click("#sign-in button");
  await page.waitForSelector('article[data-rule="ping"]');
  return { page, errors };
}

/**
 * Saves the whole page for review, once it is sure that nothing sticks out sideways
 * (a phone scrolls the page down, never across) and that every text is readable.
 */
async function screenshot(page: Page, name: string) {
  const fits = await page.evaluate(
    () => document.documentElement.scrollWidth <= window.innerWidth,
  );
  expect(fits, `${name} is wider than the window`).toBe(true);
  expect(await lowContrastTexts(page), `${name}: text below 4.5:1`).toEqual([]);
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
  // What a first look at the page shows, for the README.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SHOTS}${name}-top.png` });
}

const text = async (page: Page, selector: string) =>
  ((await page.textContent(selector)) ?? "").trim();

describe.runIf(runBrowserTests)("the dashboard (headless Chromium)", () => {
  it("when the admin signs in, then the overview shows every rule's figures, trend and what waits, at laptop and phone width", async () => {
    await seedDashboard(ctx.app, ctx.database);
    if (browser === undefined) throw new Error("the browser did not start");
    const anonymous = await browser.newPage();
    await anonymous.goto(`${ctx.app.baseUrl}/`);
    await anonymous.waitForSelector("#sign-in:not([hidden])");
    expect(await anonymous.$("article[data-rule]")).toBeNull();
    await anonymous.fill("#token", "not-the-token");
    await anonymous.click("#sign-in button");
    await anonymous.waitForSelector(
      "#sign-in-error:has-text('not the admin token')",
    );
    await anonymous.close();

    for (const [name, viewport] of VIEWPORTS) {
      const { page, errors } = await signedIn(viewport);
      const ping = 'article[data-rule="ping"]';
      expect(await text(page, `${ping} [data-step="triggered"] .num`)).toBe(
        "5",
      );
      expect(await text(page, `${ping} [data-step="suppressed"] .num`)).toBe(
        "1",
      );
      expect(await text(page, `${ping} [data-step="sent"] .num`)).toBe("4");
      expect(await text(page, `${ping} [data-step="opened"] .num`)).toBe("1");
      expect(await text(page, `${ping} [data-step="converted"] .num`)).toBe(
        "1",
      );
      expect(
        await page.getAttribute(`${ping} svg.chart`, "aria-label"),
      ).toContain("4 sent");
      // The reminders are not broken: they wait for their delay, and say when they go.
      const cart = 'article[data-rule="cart-reminder"]';
      expect(await text(page, `${cart} [data-step="sent"] .num`)).toBe("0");
      expect(await page.getAttribute(`${cart} .waiting`, "data-waiting")).toBe(
        "2",
      );
      expect(await text(page, `${cart} .waiting`)).toContain(
        "Waiting for the rule's delay",
      );
      expect(await text(page, `${cart} .waiting`)).toMatch(
        /next in (59|60) min/,
      );
      // The queue in words, not metric names.
      expect(await text(page, "#queue")).toContain(
        "Pushes due now, not yet picked up",
      );
      expect(await text(page, "#queue")).not.toContain("log queue");
      await screenshot(page, `overview-${name}`);
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it("when a rule is opened, then it shows what it says, why pushes were not sent, its variants and a preview drawn per platform", async () => {
    const { pingUsers } = await seedDashboard(ctx.app, ctx.database);
    for (const [name, viewport] of VIEWPORTS) {
      const { page, errors } = await signedIn(viewport);
      await page.click('article[data-rule="ping"] h3 a');
      await page.waitForSelector("#rule-detail [data-variants] table");
      expect(await text(page, ".definition")).toContain(
        'When the event "Ping" happens.',
      );
      expect(await text(page, ".definition")).toContain("The user who did it.");
      expect(
        await page.$$eval("[data-messages] tr[data-message]", (rows) =>
          rows.map((r) => r.getAttribute("data-message")),
        ),
      ).toEqual(["a/default", "a/de", "b/default", "b/de"]);
      expect(await text(page, '[data-message="b/default"]')).toContain(
        "Look what's new",
      );
      expect(await text(page, '[data-reason="no_device"]')).toContain(
        "No device registered",
      );
      const variants = await page.$$eval(
        "[data-variants] tr[data-variant]",
        (rows) => rows.map((r) => r.getAttribute("data-variant")),
      );
      expect(variants.length).toBeGreaterThan(0);
      // A handful of sends: the p-value is hidden, and the page says why.
      expect(await text(page, "[data-pvalue-hidden]")).toContain(
        "hidden until every variant has sent 100",
      );

      await page.fill(
        "#preview-event",
        JSON.stringify({ type: "track", event: "Ping", userId: pingUsers[1] }),
      );
      await page.click("#preview-form button[type=submit]");
      await page.waitForSelector(`[data-recipient="${pingUsers[1]}"]`);
      expect(await text(page, "[data-preview]")).toContain("Triggered");
      for (const platform of ["ios", "android", "web"])
        expect(
          await text(
            page,
            `[data-recipient="${pingUsers[1]}"] .push[data-platform="${platform}"]`,
          ),
        ).toMatch(/Hi Ada|Look what's new/);
      await screenshot(page, `rule-${name}`);
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it("when the range changes, then the figures are read again for it, and a range that ends before it starts is refused", async () => {
    const { page, errors } = await signedIn({ width: 1280, height: 800 });
    await page.check('input[name="preset"][value="24h"]');
    await page.waitForSelector("#window:has-text('per hour')");
    await page.check('input[name="preset"][value="custom"]');
    await page.fill("#from-day", "2020-01-01");
    await page.fill("#to-day", "2020-01-02");
    await page.click("#custom-days button");
    await page.waitForSelector("#window:has-text('2020-01-01 – 2020-01-02')");
    expect(
      await text(page, 'article[data-rule="ping"] [data-step="sent"] .num'),
    ).toBe("0");
    await page.fill("#from-day", "2020-01-05");
    await page.click("#custom-days button");
    await page.waitForSelector(
      "#load-error:has-text('on or before the last day')",
    );
    expect(await text(page, "#window")).toContain("2020-01-01 – 2020-01-02");

    // To a rule and back: the focus lands on each view's heading.
    await page.click('article[data-rule="ping"] h3 a');
    await page.waitForSelector("#detail-title:focus");
    await page.click("a.back");
    await page.waitForSelector("#rules-title:focus");
    expect(errors).toEqual([]);
    await page.close();
  });
});
