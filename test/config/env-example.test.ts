import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, loadConfig } from "../../src/config.ts";

const example = readFileSync(
  new URL("../../.env.example", import.meta.url),
  "utf8",
);
const documented = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map(
  (match) => match[1],
);

describe(".env.example", () => {
  it("when a key is read from the environment, then .env.example documents it", () => {
    expect([...documented].sort()).toEqual([...CONFIG_KEYS].sort());
  });

  it("when .env.example is used as it is, then it is a valid configuration", () => {
    const env = Object.fromEntries(
      [...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((match) => [
        match[1],
        match[2],
      ]),
    );
    expect(() => loadConfig(env)).not.toThrow();
  });
});
