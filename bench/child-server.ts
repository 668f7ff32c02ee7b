import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

/** A server under test, running in a process of its own. */
export type ChildServer = {
  name: string;
  pid: number;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  /** SIGTERM, then SIGKILL if it has not exited in time; safe to call more than once. */
  stop(): Promise<void>;
};

export type ChildServerOptions = {
  name: string;
  /** The entry file, run by this same Node binary (type stripping included). */
  script: string;
  /** Node's own flags, before the script. */
  nodeFlags?: readonly string[];
  cwd: string;
  /** The child's whole environment besides PATH, HOST and PORT: nothing else leaks in. */
  env: Record<string, string>;
  startTimeoutMs?: number;
  /** Hears each line the child prints (after it is forwarded), e.g. to count its warnings. */
  onOutput?: (line: string) => void;
};

const HOST = "127.0.0.1";
const STOP_TIMEOUT_MS = 10_000;

/** A port that was free a moment ago on the loopback interface. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") {
    throw new Error("could not read the port of a probe listener");
  }
  return address.port;
}

/**
 * Spawns `node <flags> <script>` on a free loopback port and resolves once `GET /health`
 * answers 200. Its output is forwarded line by line, prefixed with its name. The child
 * is killed when this process exits, even on a crash, so no server outlives a run.
 */
export async function startChildServer(
  options: ChildServerOptions,
): Promise<ChildServer> {
  const port = await freePort();
  const args = [...(options.nodeFlags ?? []), options.script];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? "",
      ...options.env,
      HOST,
      PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  forwardOutput(child, options.name, options.onOutput);
  const killNow = () => child.kill("SIGKILL");
  process.on("exit", killNow);
  const exited = once(child, "exit");

  const stop = async () => {
    process.off("exit", killNow);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timeout = sleep(STOP_TIMEOUT_MS, "timeout");
    if ((await Promise.race([exited, timeout])) === "timeout") {
      child.kill("SIGKILL");
      await exited;
    }
  };

  const url = `http://${HOST}:${port}`;
  try {
    await waitUntilHealthy(child, url, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await stop();
    throw new Error(`${options.name} did not start`, { cause: error });
  }
  return { name: options.name, pid: child.pid ?? 0, url, stop };
}

function forwardOutput(
  child: ChildProcess,
  name: string,
  onOutput?: (line: string) => void,
): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on("line", (line) => {
      process.stderr.write(`[${name}] ${line}\n`);
      onOutput?.(line);
    });
  }
}

async function waitUntilHealthy(
  child: ChildProcess,
  url: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `exited with ${String(child.exitCode ?? child.signalCode)} (see its output above)`,
      );
    }
    try {
      const response = await fetch(`${url}/health`, {
        signal: AbortSignal.timeout(1_000),
      });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet: keep polling until the deadline.
    }
    await sleep(100);
  }
  throw new Error(`GET /health did not answer 200 within ${timeoutMs} ms`);
}
