import { createSlots } from "../slots.ts";

/**
 * The notifications of one process that are being sent or whose outcome is not yet
 * written, held to `size`: a crash can repeat only what a provider accepted and Nudge
 * had not recorded, so this is the most pushes a process's crash sends twice.
 */
export type SendWindow = {
  /** Resolves once this notification may start its sends. */
  enter(): Promise<void>;
  /** Its outcome is written (or it was given up): the next one may start. */
  leave(): void;
  /** Places free now, counting those already waiting to enter: below 0 while some wait. */
  room(): number;
  /** Resolves when `room()` is at least `places`, or on `wake`. */
  onRoom(places: number): Promise<void>;
  wake(): void;
};

export function createSendWindow(size: number): SendWindow {
  const slots = createSlots(size);
  // Delivery's claims and the planner's handoff may both wait for room.
  let waiters: { places: number; resolve: () => void }[] = [];
  const room = () => size - slots.wanted();
  const wake = () => {
    for (const waiter of waiters) waiter.resolve();
    waiters = [];
  };
  return {
    enter: () => slots.take() ?? Promise.resolve(),
    leave() {
      slots.give();
      const free = room();
      waiters = waiters.filter((waiter) => {
        if (waiter.places > free) return true;
        waiter.resolve();
        return false;
      });
    },
    room,
    onRoom(places) {
      if (room() >= places) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ places, resolve }));
    },
    wake,
  };
}
