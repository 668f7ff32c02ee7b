import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, runBrowserTests } from "../support/browser.ts";
import { ADMIN_TOKEN, useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";
import { waitFor } from "../support/nudge-process.ts";

/*
 * Segment's own analytics.js (@segment/analytics-next, its browser bundle), in
 * headless Chromium on a shop's page of another origin, pointed at Nudge with a
 * custom API host, as a site owner sets it up. The bundle and its lazy chunks are
 * served by the shop's server, where analytics.js would fetch them from Segment's
 * CDN; its settings are given inline instead of fetched.
 */
const WRITE_KEY = "analytics-next-write-key";
const ctx = useTestApp({ env: { SEGMENT_WRITE_KEYS: WRITE_KEY } });

const bundles = join(
  dirname(createRequire(import.meta.url).resolve("@segment/analytics-next")),
  "..",
  "umd",
);

let site: Server;
let siteOrigin: string;
let browser: Browser | undefined;
let page: Page;

beforeAll(async () => {
  if (!runBrowserTests) return;
  site = createServer((req, res) => {
    const path = req.url ?? "/";
    const bundle = /^\/analytics-next\/bundles\/([\w.-]+\.js)$/.exec(path)?.[1];
    const file = path === "/analytics.js" ? "index.js" : bundle;
    if (file === undefined) {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(
        '<!doctype html><title>Shop</title><script src="/analytics.js"></script>',
      );
      return;
    }
    readFile(join(bundles, file)).then(
      (body) => {
        res.writeHead(200, { "content-type": "text/javascript" });
        res.end(body);
      },
      () => {
        res.writeHead(404).end();
      },
    );
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteOrigin = `http://127.0.0.1:${String((site.address() as AddressInfo).port)}`;
  browser = await launchChromium();
  // A visitor's browser in English in New York, whatever this machine's settings.
  page = await browser.newPage({
    locale: "en-US",
    timezoneId: "America/New_York",
  });
  await page.goto(`${siteOrigin}/`);
});

afterAll(async () => {
  if (!runBrowserTests) return;
  await browser?.close();
  await new Promise((resolve) => site.close(resolve));
});

describe.runIf(runBrowserTests)("Segment's analytics.js in Chromium", () => {
  it("when the app sets the user's language and timezone as traits, then the browser's own on later calls do not replace them", async () => {
    const userId = uniqueId("shopper");
    const apiHost = `${new URL(ctx.app.baseUrl).host}/v1`;
    await page.evaluate(
      async ({ writeKey, cdnURL, apiHost, userId }) => {
        const { AnalyticsBrowser } = (
          globalThis as unknown as {
            AnalyticsNext: {
              AnalyticsBrowser: {
                load(settings: unknown): {
                  identify(id: string, traits: object): Promise<unknown>;
                  track(event: string, properties: object): Promise<unknown>;
                  page(): Promise<unknown>;
                };
              };
            };
          }
        ).AnalyticsNext;
        const analytics = AnalyticsBrowser.load({
          writeKey,
          cdnURL,
          cdnSettings: {
            integrations: {
              "Segment.io": { apiKey: writeKey, apiHost, protocol: "http" },
            },
          },
        });
        await analytics.identify(userId, {
          locale: "de-DE",
          timezone: "Europe/Berlin",
        });
        await analytics.page();
        await analytics.track("Product Viewed", { product_id: "lamp-1" });
      },
      { writeKey: WRITE_KEY, cdnURL: siteOrigin, apiHost, userId },
    );

    const profile = async () =>
      fetch(`${ctx.app.baseUrl}/v1/users/${userId}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }).then(
        async (response) =>
          (response.ok ? await response.json() : undefined) as
            { locale: string | null; timezone: string | null } | undefined,
      );
    const events = () =>
      ctx.database.db
        .selectFrom("events")
        .select(["type", "payload"])
        .where("user_id", "=", userId)
        .execute();
    // analytics.js sends its calls in the background: wait for all three.
    await waitFor(async () => (await events()).length >= 3, 15_000);
    // Every call carried the browser's own locale and timezone…
    for (const { payload } of await events())
      expect(payload.context).toMatchObject({
        locale: "en-US",
        timezone: "America/New_York",
      });
    // …and the ones the app chose stayed.
    const stored = await profile();
    expect(stored?.locale).toBe("de-DE");
    expect(stored?.timezone).toBe("Europe/Berlin");
  });
});
