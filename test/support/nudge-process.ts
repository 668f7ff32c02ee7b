import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

export type NudgeProcess = {
  child: ChildProcess;
  /** The exit code, or null when killed by a signal. */
  exited: Promise<number | null>;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
};

/**
 * Runs Nudge as its own process with only the given environment: `node src/main.ts`,
 * or Node with the arguments given.
 */
export function startNudge(
  env: Record<string, string>,
  nodeArgs: readonly string[] = [MAIN],
): NudgeProcess {
  const child = spawn(process.execPath, nodeArgs, {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  return { child, exited, output: () => output };
}

/** Polls until `predicate` holds; throws after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The port a Nudge process listens on, once it says so (it logs at info). */
export async function listeningPort(
  nudge: NudgeProcess,
  timeoutMs = 30_000,
): Promise<number> {
  await waitFor(() => nudge.output().includes("nudge listening"), timeoutMs);
  const line = nudge
    .output()
    .split("\n")
    .find((text) => text.includes("nudge listening"));
  const port = /"port":(\d+)/.exec(line ?? "")?.[1];
  if (port === undefined) throw new Error("no port in the listening line");
  return Number(port);
}
