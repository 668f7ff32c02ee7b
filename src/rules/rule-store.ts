import type { Kysely } from "kysely";
import { RulesSource, type DB } from "../db/schema.ts";
import { inTransaction } from "../db/transaction.ts";
import { logsFailure } from "../worker-loop.ts";
import type { Logger } from "../logger.ts";
import {
  compileRuleBook,
  contentHash,
  emptyRuleBook,
  readRulesDocument,
  type RuleBook,
  type RulesDocument,
} from "./rule-book.ts";
import {
  findCurrentRules,
  findCurrentVersion,
  findLastFileHash,
  lockRulesDocuments,
  storeRulesDocument,
  type StoredRules,
} from "./rules-document.repository.ts";

/**
 * A change to the rules document in force (with its version; undefined while no rules
 * are stored): the new document, and what to tell the caller.
 */
export type RulesEdit<T> = (
  document: RulesDocument,
  version: string | undefined,
) => {
  document: RulesDocument;
  result: T;
};

/** Holds the rule book in force; every change swaps it whole or not at all. */
export type RuleStore = {
  current(): RuleBook;
  /** Catches up with a version another process stored; one small query when none did. */
  refresh(): Promise<RuleBook>;
  /** Loads RULES_FILE again if it changed, then the newest stored rules. */
  reload(): Promise<RuleBook>;
  /**
   * Applies an edit to the newest stored document, with every other writer kept out
   * until it is stored, so concurrent edits never lose each other. An invalid result
   * throws a RulesFileError and changes nothing.
   */
  update<T>(edit: RulesEdit<T>): Promise<{ book: RuleBook; result: T }>;
  /** Starts and stops polling for versions stored by other processes. */
  start(): void;
  stop(): Promise<void>;
};

export type RuleStoreOptions = {
  db: Kysely<DB>;
  logger: Logger;
  /** RULES_FILE, if configured. */
  file: string | undefined;
  pollEveryMs?: number;
};

/** Short enough that a change made on one process is in force on all within seconds. */
const POLL_EVERY_MS = 5_000;
const API_SOURCE = "the rules as edited";

/**
 * The rules shared by every process on the database. At start, RULES_FILE is stored as
 * a new version when nothing is stored yet or when the file changed since it was last
 * loaded; otherwise the stored rules, which may hold API edits, stay in force. An
 * invalid file refuses startup with a RulesFileError.
 */
export async function createRuleStore(
  options: RuleStoreOptions,
): Promise<RuleStore> {
  const { db, file } = options;
  const logger = options.logger.child({ module: "rules" });
  const serialize = createSerializer();
  const stored = await storeFileIfChanged(db, file);
  const state: StoreState = { book: await loadNewest(db), rejected: undefined };
  logger.info(
    { file, fileStored: stored, ...summary(state.book) },
    "rules loaded",
  );

  const refresh = () => serialize(() => catchUp(db, logger, state));

  const poller = createPoller(
    refresh,
    options.pollEveryMs ?? POLL_EVERY_MS,
    logger,
  );

  return {
    current: () => state.book,
    refresh,
    reload: () =>
      serialize(async () => {
        const fileStored = await storeFileIfChanged(db, file);
        state.book = await loadNewest(db);
        logger.info(
          { file, fileStored, ...summary(state.book) },
          "rules reloaded",
        );
        return state.book;
      }),
    update: (edit) =>
      serialize(async () => {
        const { next, result } = await inTransaction(db, async (trx) => {
          await lockRulesDocuments(trx);
          return applyEdit(trx, edit);
        });
        state.book = next;
        logger.info(summary(state.book), "rules changed through the API");
        return { book: state.book, result };
      }),
    start: poller.start,
    stop: poller.stop,
  };
}

/** A store's mutable part: the book in force, and the last stored version refused. */
type StoreState = {
  book: RuleBook;
  /** A stored version that does not compile is logged once, not on every poll. */
  rejected: string | undefined;
};

/** Takes up a version another process stored; keeps the book in force if it does not compile. */
async function catchUp(
  db: Kysely<DB>,
  logger: Logger,
  state: StoreState,
): Promise<RuleBook> {
  const version = await findCurrentVersion(db);
  if (
    version === undefined ||
    version === state.book.version ||
    version === state.rejected
  )
    return state.book;
  const newest = await findCurrentRules(db);
  if (newest === undefined) return state.book;
  try {
    state.book = compileStored(newest);
    logger.info(summary(state.book), "rules changed by another process");
  } catch (error) {
    state.rejected = newest.version;
    logger.error(
      { err: error, version: newest.version, keptVersion: state.book.version },
      "stored rules do not compile: keeping the rules in force",
    );
  }
  return state.book;
}

/** A store over one process's memory, starting from `book`: nothing shared, nothing stored. For tests and tools. */
export function fixedRuleStore(initial: RuleBook): RuleStore {
  let book = initial;
  return {
    current: () => book,
    refresh: () => Promise.resolve(book),
    reload: () => Promise.resolve(book),
    update: (edit) =>
      Promise.resolve().then(() => {
        const { document, result } = edit(book.document, book.version);
        book = compileRuleBook(document, API_SOURCE);
        return { book, result };
      }),
    start() {},
    stop: () => Promise.resolve(),
  };
}

/** Stores RULES_FILE as the current rules unless this very file was loaded last; true when it did. */
async function storeFileIfChanged(
  db: Kysely<DB>,
  file: string | undefined,
): Promise<boolean> {
  if (file === undefined) return false;
  const document = await readRulesDocument(file);
  const fromFile = compileRuleBook(document, file);
  // The JSON content, not the bytes: reformatting the file does not undo API edits.
  const fileHash = contentHash(document);
  return inTransaction(db, async (trx) => {
    await lockRulesDocuments(trx);
    const unchanged =
      (await findCurrentVersion(trx)) !== undefined &&
      (await findLastFileHash(trx)) === fileHash;
    if (unchanged) return false;
    await storeRulesDocument(trx, {
      version: fromFile.version,
      document: fromFile.document,
      source: RulesSource.file,
      fileHash,
    });
    return true;
  });
}

async function applyEdit<T>(
  db: Kysely<DB>,
  edit: RulesEdit<T>,
): Promise<{ next: RuleBook; result: T }> {
  const stored = await findCurrentRules(db);
  const { document, result } = edit(stored?.document ?? {}, stored?.version);
  const next = compileRuleBook(document, API_SOURCE);
  // Storing the document in force again would only move its timestamp.
  if (stored !== undefined && next.version === stored.version)
    return { next: compileStored(stored), result };
  await storeRulesDocument(db, {
    version: next.version,
    document: next.document,
    source: RulesSource.api,
    fileHash: undefined,
  });
  return { next, result };
}

async function loadNewest(db: Kysely<DB>): Promise<RuleBook> {
  const stored = await findCurrentRules(db);
  return stored === undefined ? emptyRuleBook() : compileStored(stored);
}

/** Compiles a stored document; the book carries the version it is stored under. */
function compileStored(stored: StoredRules): RuleBook {
  const book = compileRuleBook(
    stored.document,
    `stored rules version ${stored.version}`,
  );
  return book.version === stored.version
    ? book
    : Object.freeze({ ...book, version: stored.version });
}

function summary(book: RuleBook) {
  return {
    version: book.version,
    rules: book.rules.length,
    collections: book.collections.length,
  };
}

/** Calls `poll` every `everyMs`, one call at a time; a failure is logged and retried at the next tick. */
function createPoller(
  poll: () => Promise<unknown>,
  everyMs: number,
  logger: Logger,
): { start: () => void; stop: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<unknown> | undefined;
  let failures = 0;
  const tick = () => {
    polling ??= poll()
      .then(
        () => {
          failures = 0;
        },
        (error: unknown) => {
          failures++;
          if (logsFailure(failures))
            logger.warn({ err: error, failures }, "polling for rules failed");
        },
      )
      .finally(() => {
        polling = undefined;
      });
  };
  return {
    start() {
      clearInterval(timer);
      // Unref'd: polling alone never keeps the process alive.
      timer = setInterval(tick, everyMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await polling;
    },
  };
}

/** Runs one task at a time, in call order: a poll never overwrites a newer edit. */
function createSerializer(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}
