import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** Linux reports CPU times in clock ticks of 1/100 s (USER_HZ) on every common platform. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds the whole machine has spent busy (all cores: user, nice, system, irq,
 * softirq, steal) since boot; undefined where /proc/stat is missing.
 */
export async function machineBusySeconds(): Promise<number | undefined> {
  const ticks = await cpuTicks();
  if (ticks === undefined) return undefined;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] =
    ticks;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/**
 * The whole machine's CPU times since boot, in ticks, as /proc/stat's `cpu` line gives
 * them: user nice system idle iowait irq softirq steal (guest time is inside user);
 * undefined where it is missing.
 */
async function cpuTicks(): Promise<number[] | undefined> {
  try {
    const stat = await readFile("/proc/stat", "utf8");
    return /^cpu\s+(.*)$/m
      .exec(stat)?.[1]
      ?.trim()
      .split(/\s+/)
      .slice(0, 8)
      .map(Number);
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine has been nearly idle for a second (below `maxBusyCores` of
 * CPU), at most `timeoutMs`, so that a measurement does not start in the middle of
 * someone else's work. Returns how busy the last second was, in cores.
 */
export async function waitForQuietMachine(
  maxBusyCores = 0.25,
  timeoutMs = 60_000,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = await machineBusySeconds();
    await sleep(1_000);
    const after = await machineBusySeconds();
    if (before === undefined || after === undefined) return undefined;
    const busy = after - before;
    if (busy <= maxBusyCores || Date.now() >= deadline) return busy;
  }
}

/**
 * Starts measuring how much of the machine's CPU time the hypervisor took for other
 * guests (steal): on a shared virtual machine, figures measured while much of it was
 * stolen are slower than the code. Resolves to that share since the start, 0 to 1.
 */
export async function startStealMeter(): Promise<
  () => Promise<number | undefined>
> {
  const before = await stealTicks();
  return async () => {
    const after = await stealTicks();
    if (before === undefined || after === undefined) return undefined;
    const total = after.total - before.total;
    return total > 0 ? (after.steal - before.steal) / total : undefined;
  };
}

async function stealTicks(): Promise<
  { steal: number; total: number } | undefined
> {
  const ticks = await cpuTicks();
  if (ticks === undefined) return undefined;
  return {
    steal: ticks[7] ?? 0,
    total: ticks.reduce((sum, t) => sum + t, 0),
  };
}
