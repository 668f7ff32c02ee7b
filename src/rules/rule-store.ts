import type { Logger } from "../logger.ts";
import { emptyRuleBook, loadRuleBook, type RuleBook } from "./rule-book.ts";

/** Holds the rule book in force; a reload swaps it whole or not at all. */
export type RuleStore = {
  current(): RuleBook;
  reload(): Promise<RuleBook>;
};

export async function createRuleStore(
  file: string | undefined,
  logger: Logger,
): Promise<RuleStore> {
  const load = async () =>
    file === undefined ? emptyRuleBook() : loadRuleBook(file);
  let book = await load();
  logger.info(
    {
      file,
      version: book.version,
      rules: book.rules.length,
      collections: book.collections.length,
    },
    "rules loaded",
  );
  return {
    current: () => book,
    async reload() {
      book = await load();
      logger.info(
        { file, version: book.version, rules: book.rules.length },
        "rules reloaded",
      );
      return book;
    },
  };
}

/** A store over a fixed rule book, for tests and tools. */
export function fixedRuleStore(book: RuleBook): RuleStore {
  return { current: () => book, reload: () => Promise.resolve(book) };
}
