/**
 * Where the machine's CPU went in each of the soak's intervals: Nudge's process, the
 * PostgreSQL backends serving its database, and the rest. The cores are shared with
 * other people's work, so a latency spike reads differently when "other" was busy.
 */
import {
  processCpuSeconds,
  startCpuMeter,
  type CpuMeter,
} from "./cpu-usage.ts";
import { machineBusySeconds } from "./machine-load.ts";

/** Cores kept busy on average over an interval; undefined where /proc could not be read. */
export type CpuShares = {
  nudge: number | undefined;
  postgres: number | undefined;
  /**
   * The machine's busy time minus Nudge, its PostgreSQL backends, the fakes and the
   * load generator: PostgreSQL's own background work (checkpoints, autovacuum, WAL)
   * and anything else running.
   */
  other: number | undefined;
};

export type CpuWatch = {
  /** The shares since the last call (the first time: since the watch started). */
  next(): Promise<CpuShares>;
};

const UNKNOWN: CpuShares = {
  nudge: undefined,
  postgres: undefined,
  other: undefined,
};

export async function watchCpu(options: {
  nudgePid: number;
  fakesPid: number;
  /** The PostgreSQL server's URL and the name of Nudge's database on it. */
  serverUrl: string;
  databaseName: string;
}): Promise<CpuWatch> {
  const startMeter = (): Promise<CpuMeter | undefined> =>
    startCpuMeter({
      serverPid: options.nudgePid,
      serverUrl: options.serverUrl,
      databaseName: options.databaseName,
    }).catch(() => undefined);
  // The soak's own helpers: the fakes' process and this one, which sends the load.
  const helpers = async () => {
    const fakes = await processCpuSeconds(options.fakesPid);
    const own = process.cpuUsage();
    return fakes === undefined
      ? undefined
      : fakes + (own.user + own.system) / 1e6;
  };
  let meter = await startMeter();
  let machine = await machineBusySeconds();
  let helped = await helpers();
  let at = performance.now();
  return {
    async next() {
      const [used, machineNow, helpedNow] = await Promise.all([
        meter?.read(),
        machineBusySeconds(),
        helpers(),
      ]);
      const now = performance.now();
      const seconds = (now - at) / 1000;
      const busy = difference(machineNow, machine);
      const helping = difference(helpedNow, helped);
      [meter, machine, helped, at] = [
        await startMeter(),
        machineNow,
        helpedNow,
        now,
      ];
      if (used === undefined || seconds <= 0) return UNKNOWN;
      const other =
        busy === undefined || helping === undefined
          ? undefined
          : Math.max(0, busy - used.server - used.postgres - helping);
      return {
        nudge: used.server / seconds,
        postgres: used.postgres / seconds,
        other: other === undefined ? undefined : other / seconds,
      };
    },
  };
}

const difference = (after?: number, before?: number) =>
  after === undefined || before === undefined ? undefined : after - before;
