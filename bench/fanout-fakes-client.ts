import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

/** The team and key id the fake APNs checks provider tokens against. */
export const APNS_TEAM = { teamId: "BENCHTEAM1", keyId: "BENCHKEY01" } as const;

/**
 * Milliseconds since the epoch with sub-millisecond resolution, comparable between the
 * processes of one machine: the benchmark, the fakes and the HTTP/2 client.
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** What the fakes need to be reached and trusted, sent once they listen. */
export type FakesReady = {
  type: "ready";
  /** The test CA (PEM) that signed both fakes' certificate. */
  ca: string;
  /** The APNs signing key (.p8 PEM) whose public half the fake APNs trusts. */
  apnsKeyP8: string;
  apnsPort: number;
  /** `https://127.0.0.1:<port>` */
  fcmOrigin: string;
  fcmProjectId: string;
  /** A static access token the fake FCM accepts. */
  fcmAccessToken: string;
};

export type FakesRequest =
  | { type: "expect"; id: number; apns: number; fcm: number; timeoutMs: number }
  | { type: "count"; id: number };

/** When a fake accepted the first and the last expected push (epoch ms). */
export type Arrival = { first: number | undefined; last: number | undefined };

/** What one fake received since the last `expect`. */
export type ProviderCounts = {
  accepted: number;
  distinctTokens: number;
  /** Requests answered or dropped, accepted or not. */
  requests: number;
  /** The first refusals, for the error message of a run that went wrong. */
  rejections: string[];
};

export type FakesResponse =
  | { type: "expecting"; id: number }
  | { type: "arrived"; id: number; apns: Arrival; fcm: Arrival }
  | { type: "counts"; id: number; apns: ProviderCounts; fcm: ProviderCounts }
  | { type: "failed"; id: number; message: string };

export type FakeCounts = { apns: ProviderCounts; fcm: ProviderCounts };

/** The fakes' process, seen from the benchmark. */
export type Fakes = {
  pid: number;
  ready: FakesReady;
  /**
   * Resets the fakes' records and resolves once they wait for `apns` + `fcm` pushes;
   * `arrived` then resolves when the last of them was accepted.
   */
  expect(
    apns: number,
    fcm: number,
    timeoutMs: number,
  ): Promise<{ arrived: Promise<{ apns: Arrival; fcm: Arrival }> }>;
  counts(): Promise<FakeCounts>;
  stop(): Promise<void>;
};

/**
 * Starts bench/fanout-fakes.ts as a child process with an IPC channel. Its output is
 * forwarded prefixed with "fakes"; it is killed when this process exits, even on a crash.
 */
export async function startFakes(cwd: string): Promise<Fakes> {
  const child = spawn(process.execPath, ["bench/fanout-fakes.ts"], {
    cwd,
    env: { PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on("line", (line) => {
      process.stderr.write(`[fakes] ${line}\n`);
    });
  }
  const killNow = () => child.kill("SIGKILL");
  process.on("exit", killNow);
  const exited = once(child, "exit");
  // Answers awaited, by request id and answer type: an expect is answered twice.
  type Waiter = { resolve(m: FakesResponse): void; reject(e: Error): void };
  const waiting = new Map<string, Waiter>();
  let nextId = 1;
  let onReady: ((ready: FakesReady) => void) | undefined;
  child.on("message", (message: FakesReady | FakesResponse) => {
    if (message.type === "ready") {
      onReady?.(message);
      return;
    }
    for (const [key, waiter] of waiting) {
      const [id, type] = key.split("/");
      if (id !== String(message.id)) continue;
      if (message.type === "failed") {
        waiting.delete(key);
        waiter.reject(new Error(`fakes: ${message.message}`));
      } else if (type === message.type) {
        waiting.delete(key);
        waiter.resolve(message);
      }
    }
  });
  void exited.then(() => {
    for (const waiter of waiting.values())
      waiter.reject(new Error("the fakes' process exited"));
    waiting.clear();
  });

  const answer = <T extends FakesResponse>(
    id: number,
    type: T["type"],
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      waiting.set(`${String(id)}/${type}`, {
        resolve: (m) => {
          resolve(m as T);
        },
        reject,
      });
    });

  const ready = await Promise.race([
    new Promise<FakesReady>((resolve) => (onReady = resolve)),
    exited.then(() => {
      throw new Error("the fakes' process exited before listening");
    }),
  ]);

  return {
    pid: child.pid ?? 0,
    ready,
    async expect(apns, fcm, timeoutMs) {
      const id = nextId++;
      const expecting = answer(id, "expecting");
      const arrived = answer<Extract<FakesResponse, { type: "arrived" }>>(
        id,
        "arrived",
      ).then(({ apns, fcm }) => ({ apns, fcm }));
      // A caller that gives up before awaiting it (a failed run) must not turn its
      // later rejection (the fakes stopped) into an unhandled one; awaiting still throws.
      arrived.catch(() => undefined);
      child.send({
        type: "expect",
        id,
        apns,
        fcm,
        timeoutMs,
      } satisfies FakesRequest);
      await expecting;
      return { arrived };
    },
    async counts() {
      const id = nextId++;
      const counts = answer<Extract<FakesResponse, { type: "counts" }>>(
        id,
        "counts",
      );
      child.send({ type: "count", id } satisfies FakesRequest);
      const { apns, fcm } = await counts;
      return { apns, fcm };
    },
    async stop() {
      process.off("exit", killNow);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(killNow, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
