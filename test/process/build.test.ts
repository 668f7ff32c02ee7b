import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCommand } from "../../scripts/start-command.ts";
import { startNudge, waitFor } from "../support/nudge-process.ts";

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

describe("the build", () => {
  it("when built, then Nudge runs from the JavaScript as `npm start` runs it, dashboard included", async () => {
    execFileSync(process.execPath, ["scripts/build.ts", OUT_DIR], {
      stdio: "pipe",
    });
    const { nodeFlags, entry } = startCommand();
    const nudge = startNudge(
      { PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir },
      [...nodeFlags, join(OUT_DIR, relative("dist", entry))],
    );
    await waitFor(() => nudge.output().includes("nudge listening"), 30_000);
    const port = Number(/"port":(\d+)/.exec(nudge.output())?.[1]);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    const script = await fetch(
      `http://127.0.0.1:${port}/dashboard/dashboard.js`,
    );
    expect(script.status).toBe(200);
    nudge.child.kill("SIGTERM");
    expect(await nudge.exited).toBe(0);
  });

  it("when the Docker image starts, then it runs what `npm start` runs, with the same flags", async () => {
    const dockerfile = await readFile("Dockerfile", "utf8");
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    const { nodeFlags, entry } = startCommand();
    expect(JSON.parse(cmd ?? "null")).toEqual(["node", ...nodeFlags, entry]);
  });
});
