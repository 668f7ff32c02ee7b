import { readFile } from "node:fs/promises";
import { adminQuery } from "./support.ts";

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every common platform. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far; undefined where /proc is missing. */
export async function processCpuSeconds(
  pid: number,
): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds a server process and the PostgreSQL backends of its database used. */
export type CpuUsage = { server: number; postgres: number };

export type CpuMeter = {
  /** What was used since the meter was created; undefined where it cannot be read. */
  read(): Promise<CpuUsage | undefined>;
};

/** How often the meter looks for backends: one that exits loses at most this much. */
const POLL_MS = 1_000;

/**
 * Meters the CPU that one measurement costs: the server's process and every backend
 * connected to its database (the benchmark's PostgreSQL runs on the same machine).
 * Backends that connect later count in full. The backends are read every second, and
 * one that exits keeps what it was last seen using: a pool closes idle connections and
 * opens new ones during a long run, and their CPU must not be lost. Reads /proc, so
 * Linux only.
 */
export async function startCpuMeter(options: {
  serverPid: number;
  serverUrl: string;
  databaseName: string;
}): Promise<CpuMeter> {
  const backends = () =>
    adminQuery<{ pid: number }>(
      options.serverUrl,
      "select pid from pg_stat_activity where datname = $1",
      [options.databaseName],
    ).then((rows) => rows.map((row) => row.pid));
  const sample = async (pids: readonly number[]) => {
    const times = await Promise.all(pids.map(processCpuSeconds));
    return new Map(pids.map((pid, i) => [pid, times[i]]));
  };
  const before = await sample([options.serverPid, ...(await backends())]);
  // Each process's CPU when last seen; a backend first seen later started from zero.
  const latest = new Map<number, number>();
  const look = async () => {
    for (const [pid, seconds] of await sample([
      options.serverPid,
      ...(await backends()),
    ]))
      if (seconds !== undefined) latest.set(pid, seconds);
  };
  let looking = Promise.resolve();
  const timer = setInterval(() => {
    looking = looking.then(look, look);
  }, POLL_MS);
  return {
    async read() {
      clearInterval(timer);
      await looking.catch(() => undefined);
      const server = await processCpuSeconds(options.serverPid);
      if (server === undefined) return undefined;
      await look();
      const used = (pid: number, now: number) =>
        Math.max(0, now - (before.get(pid) ?? 0));
      let postgres = 0;
      for (const [pid, now] of latest)
        if (pid !== options.serverPid) postgres += used(pid, now);
      return { server: used(options.serverPid, server), postgres };
    },
  };
}
