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

/**
 * Meters the CPU that one measurement costs: the server's process and every backend
 * connected to its database (the benchmark's PostgreSQL runs on the same machine).
 * Backends that connect later count in full. Reads /proc, so Linux only.
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
  return {
    async read() {
      const pids = await backends();
      const after = await sample([options.serverPid, ...pids]);
      // A backend that exited between the listing and the reading counts nothing,
      // rather than minus what it had used before.
      const used = (pid: number) => {
        const now = after.get(pid);
        return now === undefined
          ? 0
          : Math.max(0, now - (before.get(pid) ?? 0));
      };
      if (after.get(options.serverPid) === undefined) return undefined;
      return {
        server: used(options.serverPid),
        postgres: pids.reduce((sum, pid) => sum + used(pid), 0),
      };
    },
  };
}
