import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/*
 * Fails (exit 1) on an import cycle in src/, between folders or between files. Imports
 * follow the data one way (http → ingest → planning → delivery → providers, with
 * profiles, rules and stats as leaves the stages call): a cycle is the sign that data
 * bounces back up a layer. A file at the top of src/ is a node of its own, so that the
 * composition root (deps.ts, app.ts, main.ts) may import every folder. Run by
 * `npm run lint`.
 */
const SRC = resolve(import.meta.dirname, "..", "src");
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*)"(\.{1,2}\/[^"]+)"/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The folder under src/ a file belongs to, or the file itself at the top. */
function nodeOf(file: string): string {
  const path = relative(SRC, file);
  const [first = path] = path.split("/");
  return first === path ? path : `${first}/`;
}

/** Every cycle of the graph (its strongly connected components of two or more). */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      component.push(member);
      if (member === node) break;
    }
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const files = new Map<string, Set<string>>();
const folders = new Map<string, Set<string>>();
for (const file of sourceFiles(SRC)) {
  const text = readFileSync(file, "utf8");
  const targets = [...text.matchAll(IMPORT)].map((match) =>
    resolve(dirname(file), match[1] ?? ""),
  );
  files.set(relative(SRC, file), new Set(targets.map((t) => relative(SRC, t))));
  const from = nodeOf(file);
  const edges = folders.get(from) ?? new Set<string>();
  for (const target of targets) {
    const to = nodeOf(target);
    if (to !== from) edges.add(to);
  }
  folders.set(from, edges);
}

const problems = [
  ...cycles(folders).map((c) => `folder cycle: ${c.join(" ↔ ")}`),
  ...cycles(files).map((c) => `file cycle: ${c.join(" ↔ ")}`),
];
for (const problem of problems) console.error(`src/: ${problem}`);
if (problems.length > 0) process.exit(1);
