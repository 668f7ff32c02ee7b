import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, runBrowserTests } from "../support/browser.ts";
import { useTestApp } from "../support/test-app.ts";
import { uniqueId } from "../support/test-database.ts";

const WRITE_KEY = "browser-write-key";

const ctx = useTestApp({ env: { SEGMENT_WRITE_KEYS: WRITE_KEY } });

/** The shop's own site: another origin than Nudge's, as analytics.js runs on. */
let site: Server;
let browser: Browser | undefined;
let page: Page;
beforeAll(async () => {
  if (!runBrowserTests) return;
  site = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>Shop</title>");
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  browser = await launchChromium();
  // A visitor's browser in English, whatever this machine's own settings.
  page = await browser.newPage({
    locale: "en-US",
    timezoneId: "America/New_York",
  });
  await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
});
afterAll(async () => {
  if (!runBrowserTests) return;
  await browser?.close();
  await new Promise((resolve) => site.close(resolve));
});

type Answer = { status: number; body: unknown } | { failed: string };

/** A fetch from the site's page to Nudge; `failed` when the browser refuses it. */
function postFromPage(
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Answer> {
  return page.evaluate(
    async ({ url, text, headers }) => {
      try {
        const response = await fetch(url, {
          method: "post",
          keepalive: true,
          headers,
          body: text,
        });
        return {
          status: response.status,
          body: await response.json(),
        };
      } catch (error) {
        return { failed: String(error) };
      }
    },
    { url: `${ctx.app.baseUrl}${path}`, text: JSON.stringify(body), headers },
  );
}

/** The context analytics.js adds to every call from what the browser says of itself. */
function browserContext(): Promise<{ locale: string; timezone: string }> {
  return page.evaluate(() => ({
    locale: navigator.language,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }));
}

const track = (userId: string) => ({
  type: "track",
  event: "Product Viewed",
  userId,
  messageId: uniqueId("msg"),
});

describe.runIf(runBrowserTests)(
  "analytics.js on a site's pages (headless Chromium)",
  () => {
    it("when a page posts a call as analytics.js does (text/plain, write key in the body), then it reads Nudge's answer and the call is stored", async () => {
      const userId = uniqueId("user");

      const answer = await postFromPage(
        "/v1/t",
        { ...track(userId), writeKey: WRITE_KEY },
        { "Content-Type": "text/plain" },
      );

      expect(answer).toEqual({
        status: 200,
        body: { accepted: 1, duplicates: 0, rejected: [] },
      });
      const stored = await ctx.database.db
        .selectFrom("events")
        .select("event")
        .where("user_id", "=", userId)
        .execute();
      expect(stored).toEqual([{ event: "Product Viewed" }]);
    });

    it("when a page sends the write key in an Authorization header, then its preflight is answered and the batch is stored", async () => {
      const userId = uniqueId("user");

      const answer = await postFromPage(
        "/v1/batch",
        { batch: [track(userId), track(userId)] },
        {
          "Content-Type": "application/json",
          Authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`,
        },
      );

      expect(answer).toMatchObject({ status: 200, body: { accepted: 2 } });
    });

    it("when the app sets traits.locale by identify, then the browser's context.locale on later calls does not replace it", async () => {
      const userId = uniqueId("user");
      const context = await browserContext();
      expect(context).toEqual({
        locale: "en-US",
        timezone: "America/New_York",
      });
      // As analytics.js sends them: one call per request on its short paths.
      const call = (path: string, fields: Record<string, unknown>) =>
        postFromPage(
          path,
          {
            messageId: uniqueId("msg"),
            userId,
            context,
            ...fields,
            writeKey: WRITE_KEY,
          },
          { "Content-Type": "text/plain" },
        );

      await call("/v1/i", {
        type: "identify",
        traits: { locale: "de-DE", timezone: "Europe/Berlin" },
      });
      await call("/v1/p", { type: "page", name: "Home" });
      const last = await call("/v1/t", track(userId));

      expect(last).toMatchObject({ status: 200, body: { accepted: 1 } });
      const stored = await ctx.database.db
        .selectFrom("profiles")
        .select(["locale", "timezone"])
        .where("user_id", "=", userId)
        .executeTakeFirst();
      expect(stored).toEqual({ locale: "de-DE", timezone: "Europe/Berlin" });
    });

    it("when a page's write key is wrong, then the page reads the 401 and what to fix", async () => {
      const answer = await postFromPage(
        "/v1/t",
        { ...track(uniqueId("user")), writeKey: "not-a-key" },
        { "Content-Type": "text/plain" },
      );

      expect(answer).toMatchObject({
        status: 401,
        body: { error: { code: "invalid_write_key" } },
      });
    });
  },
);
