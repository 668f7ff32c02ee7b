import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  listeningPort,
  startNudge as startProcess,
  waitFor,
} from "../support/nudge-process.ts";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "nudge-main-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs Nudge with the given environment and a data directory of this file's. */
function startNudge(env: Record<string, string>) {
  return startProcess({ DATA_DIR: join(dir, "data"), ...env });
}

describe("nudge process", () => {
  it("when several keys are bad, then it refuses to start and lists every one", async () => {
    const nudge = startNudge({
      PORT: "http",
      LOG_LEVEL: "loud",
      TRUST_PROXY: "yes",
    });
    expect(await nudge.exited).toBe(1);
    expect(nudge.output()).toContain("PORT:");
    expect(nudge.output()).toContain("LOG_LEVEL:");
    expect(nudge.output()).toContain("TRUST_PROXY:");
  });

  it("when the rules file is invalid, then it refuses to start naming the rule and the field", async () => {
    const rules = join(dir, "bad-rules.json");
    await writeFile(
      rules,
      JSON.stringify({
        rules: [
          {
            id: "promo",
            trigger: "event = ",
            message: { title: "t", body: "b" },
          },
        ],
      }),
    );
    const nudge = startNudge({ RULES_FILE: rules, PORT: "0" });
    expect(await nudge.exited).toBe(1);
    expect(nudge.output()).toContain('rules[0] "promo".trigger');
  });

  it("when production has no ADMIN_TOKEN, then it refuses to start", async () => {
    const nudge = startNudge({ NODE_ENV: "production", PORT: "0" });
    expect(await nudge.exited).toBe(1);
    expect(nudge.output()).toContain("ADMIN_TOKEN");
  });

  it("when SIGHUP arrives, then a changed rules file is put in force, and an invalid one is refused while the rules in force keep serving", async () => {
    const rules = join(dir, "reloaded-rules.json");
    const example = JSON.parse(await readFile("examples/rules.json", "utf8"));
    await writeFile(rules, JSON.stringify(example));
    const nudge = startNudge({
      RULES_FILE: rules,
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: join(dir, "data-sighup"),
    });
    const port = await listeningPort(nudge);
    const rulesVersion = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      expect(response.status).toBe(200);
      return ((await response.json()) as { rulesVersion: string }).rulesVersion;
    };
    const first = await rulesVersion();

    example.rules.pop();
    await writeFile(rules, JSON.stringify(example));
    nudge.child.kill("SIGHUP");
    await waitFor(() => nudge.output().includes("rules reloaded"), 10_000);
    const second = await rulesVersion();
    expect(second).not.toBe(first);

    await writeFile(rules, "{ not json");
    nudge.child.kill("SIGHUP");
    await waitFor(() => nudge.output().includes("rules reload failed"), 10_000);
    expect(await rulesVersion()).toBe(second);

    nudge.child.kill("SIGTERM");
    expect(await nudge.exited).toBe(0);
  });

  it("when batches are accepted on Segment's signature alone, then it warns once at start that they can be extended, and what to set", async () => {
    const secret = "shared-secret-value";
    const nudge = startNudge({
      PORT: "0",
      HOST: "127.0.0.1",
      SEGMENT_SHARED_SECRET: secret,
    });
    await listeningPort(nudge);
    nudge.child.kill("SIGTERM");
    expect(await nudge.exited).toBe(0);
    const warnings = nudge
      .output()
      .split("\n")
      .filter((line) => line.includes("SEGMENT_WEBHOOK_TOKEN is not set"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("append forged events");
    expect(warnings[0]).toContain('"level":40');
    expect(nudge.output()).not.toContain(secret);
  });

  it("when SEGMENT_WEBHOOK_TOKEN is set, then it does not warn about the webhook and never prints the token", async () => {
    const token = "webhook-token-value-0123";
    const nudge = startNudge({
      PORT: "0",
      HOST: "127.0.0.1",
      SEGMENT_SHARED_SECRET: "shared-secret-value",
      SEGMENT_WEBHOOK_TOKEN: token,
    });
    await listeningPort(nudge);
    nudge.child.kill("SIGTERM");
    expect(await nudge.exited).toBe(0);
    expect(nudge.output()).not.toContain("SEGMENT_WEBHOOK_TOKEN is not set");
    expect(nudge.output()).not.toContain(token);
  });

  it("when SIGTERM arrives, then it stops serving, closes the database and exits 0", async () => {
    const nudge = startNudge({ PORT: "0", HOST: "127.0.0.1" });
    const port = await listeningPort(nudge);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    nudge.child.kill("SIGTERM");
    expect(await nudge.exited).toBe(0);
    expect(nudge.output()).toContain('"msg":"stopped"');
  });
});
