import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageCommand } from "../../scripts/start-command.ts";
import { listeningPort, startNudge } from "../support/nudge-process.ts";

// Inside node_modules, so that the compiled modules resolve their dependencies.
const OUT_DIR = "node_modules/.cache/nudge-build-test";
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "nudge-build-"));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
  await rm(OUT_DIR, { recursive: true, force: true });
});

/** `npm start`'s command line, split: package.json's start script. */
async function npmStartCommand(dir = "."): Promise<string[]> {
  const manifest = JSON.parse(
    await readFile(join(dir, "package.json"), "utf8"),
  ) as { scripts: Record<string, string> };
  expect(manifest.scripts.prestart).toBeUndefined();
  return (manifest.scripts.start ?? "").split(/\s+/);
}

describe("starting Nudge", () => {
  it("when built, then Nudge runs from the JavaScript as the Docker image runs it, dashboard included", async () => {
    execFileSync(process.execPath, ["scripts/build.ts", OUT_DIR], {
      stdio: "pipe",
    });
    const { nodeFlags, entry } = imageCommand();
    const nudge = startNudge(
      { PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir },
      [...nodeFlags, join(OUT_DIR, relative("dist", entry))],
    );
    const port = await listeningPort(nudge);
    const page = await fetch(`http://127.0.0.1:${String(port)}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    const script = await fetch(
      `http://127.0.0.1:${String(port)}/dashboard/dashboard.js`,
    );
    expect(script.status).toBe(200);
    nudge.child.kill("SIGTERM");
    expect(await nudge.exited).toBe(0);
  });

  it("when started with npm start, then it runs the sources with the image's flags and compiles nothing first", async () => {
    const { nodeFlags } = imageCommand();
    expect(await npmStartCommand()).toEqual([
      "node",
      ...nodeFlags,
      "src/main.ts",
    ]);
  });

  // A production install is slow (npm ci), so it runs once in CI: on the PGlite pass.
  it.runIf(Boolean(process.env.CI) && !process.env.TEST_DATABASE_URL)(
    "when installed without dev dependencies, then npm start's command serves",
    { timeout: 180_000 },
    async () => {
      const app = await mkdtemp(join(tmpdir(), "nudge-production-"));
      try {
        for (const part of [
          "package.json",
          "package-lock.json",
          "src",
          "migrations",
          "examples",
        ])
          await cp(part, join(app, part), { recursive: true });
        execFileSync(
          "npm",
          ["ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund"],
          { cwd: app, stdio: "pipe" },
        );
        const [, ...args] = await npmStartCommand(app);
        const started = Date.now();
        const nudge = startNudge(
          { PORT: "0", HOST: "127.0.0.1", DATA_DIR: join(app, "data") },
          args.map((arg) => (arg.startsWith("-") ? arg : join(app, arg))),
        );
        const port = await listeningPort(nudge);
        const health = await fetch(`http://127.0.0.1:${String(port)}/health`);
        expect(health.status).toBe(200);
        console.info(
          `production install: serving ${String(Date.now() - started)} ms after start`,
        );
        nudge.child.kill("SIGTERM");
        expect(await nudge.exited).toBe(0);
      } finally {
        await rm(app, { recursive: true, force: true });
      }
    },
  );
});
