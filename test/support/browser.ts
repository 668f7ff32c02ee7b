import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium, found on PATH as the `chromium` command. */
const browserPath = (process.env.PATH ?? "")
  .split(delimiter)
  .map((dir) => join(dir, "chromium"))
  .find((candidate) => existsSync(candidate));

/**
 * Whether the browser tests run: a newcomer's `npm test` runs without a browser
 * installed; CI (CI=true) installs Chromium and fails these tests if it is missing.
 */
export const runBrowserTests =
  browserPath !== undefined || Boolean(process.env.CI);

/** Headless Chromium, kept off the network it has no business reaching. */
export function launchChromium(): Promise<Browser> {
  if (browserPath === undefined)
    throw new Error(
      "chromium is not installed: apt-get install chromium (.ci/run does)",
    );
  return chromium.launch({
    executablePath: browserPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
