import type { Kysely } from "kysely";
import type { DB } from "../db/schema.ts";

/**
 * A feature's rows keyed by user, as a merge or an erasure of that user asks the
 * feature to move or delete them: each feature writes its own tables. Both run in the
 * caller's transaction, after the profiles' and devices' locks (lock-order.ts), in the
 * order the features are listed at wiring.
 */
export type UserRows = {
  /** Moves `from`'s rows to `into`; where both have one for the same thing, `into`'s stays. */
  move(db: Kysely<DB>, from: string, into: string): Promise<void>;
  /**
   * Deletes the user's rows, or keeps what must outlive them without the user in it.
   * `keepEvent`: the erasing call's own event, stored as it came.
   */
  erase(db: Kysely<DB>, userId: string, keepEvent?: string): Promise<void>;
};
