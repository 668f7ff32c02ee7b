import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export type ChildTaskOptions = {
  name: string;
  /** The entry file, run by this same Node binary (type stripping included). */
  script: string;
  /** Node's own flags, before the script. */
  nodeFlags?: readonly string[];
  cwd: string;
  /** The child's whole environment besides PATH: nothing else leaks in. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Kills the child when aborted. */
  signal?: AbortSignal;
};

/**
 * Runs `node <script>` to completion and returns the JSON of the last line it printed
 * on stdout. Its stderr is forwarded line by line, prefixed with its name. The child
 * is killed when it overruns `timeoutMs`, when `signal` aborts and when this process
 * exits, even on a crash.
 */
export async function runChildTask<T>(options: ChildTaskOptions): Promise<T> {
  const args = [...(options.nodeFlags ?? []), options.script];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killNow = () => child.kill("SIGKILL");
  process.on("exit", killNow);
  const timer = setTimeout(killNow, options.timeoutMs);
  options.signal?.addEventListener("abort", killNow, { once: true });
  let lastLine = "";
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.trim() !== "") lastLine = line;
  });
  createInterface({ input: child.stderr }).on("line", (line) => {
    process.stderr.write(`[${options.name}] ${line}\n`);
  });
  try {
    const [code, signal] = (await once(child, "close")) as [
      number | null,
      NodeJS.Signals | null,
    ];
    if (code !== 0) {
      throw new Error(
        `${options.name} exited with ${String(code ?? signal)}${signal === "SIGKILL" ? ` (killed after ${options.timeoutMs} ms?)` : ""}`,
      );
    }
    return JSON.parse(lastLine) as T;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", killNow);
    process.off("exit", killNow);
  }
}
