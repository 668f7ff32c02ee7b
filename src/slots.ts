/** At most a fixed number of holders at once; the others wait their turn, in order. */
export type Slots = {
  /** Takes a slot: undefined when one was free, else a promise of the next one given back. */
  take(): Promise<void> | undefined;
  /** Gives a slot back: to the first waiting, if any. */
  give(): void;
  /** Slots held, plus takers waiting for one. */
  wanted(): number;
};

export function createSlots(limit: number): Slots {
  let free = limit;
  const waiting: (() => void)[] = [];
  return {
    take() {
      if (free > 0) {
        free--;
        return undefined;
      }
      return new Promise((resolve) => waiting.push(resolve));
    },
    give() {
      const next = waiting.shift();
      if (next === undefined) free++;
      else next();
    },
    wanted: () => limit - free + waiting.length,
  };
}
