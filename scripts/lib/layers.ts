/**
 * The layer rules of the source tree and their check, as pure functions over file paths and file texts
 * (scripts/check-layers.ts reads the tree; test/unit/layers.test.ts runs both). docs/architecture.md §1
 * explains the layers.
 *
 * Layers point one way: a file may import from its own layer and from layers of a lower rank, never from a
 * higher rank nor from another layer of the same rank (db and bus know nothing of each other). Plugin
 * implementations (plugins/<id>/) are sealed: only files of the same plugin import them, and they import only
 * core, media and the SDK (PLUGIN_API), because a plugin must stay replaceable by a binary in PLUGIN_DIR.
 * No file may take part in an import cycle; type-only imports count
 * (a type cycle still ties two modules together: neither can move or be read alone). Every checked file is in a
 * layer, so a new folder cannot slip past the rules.
 */
import { posix } from "node:path";
import ts from "typescript";

export interface Layer {
  name: string;
  /** Lower ranks are imported by higher ones, never the reverse. */
  rank: number;
  /** Repository-relative folder, with a trailing slash. */
  folder: string;
  /** Each subfolder is a unit of its own that only its own files may import. */
  sealed?: boolean;
  /** Imports nothing outside its own folder (packages aside): browser code that talks to the server over HTTP only. */
  isolated?: boolean;
}

export const LAYERS: Layer[] = [
  { name: "core", rank: 0, folder: "src/core/" },
  { name: "db", rank: 1, folder: "src/db/" },
  { name: "bus", rank: 1, folder: "src/bus/" },
  { name: "plugin runtime", rank: 2, folder: "src/plugin-runtime/" },
  { name: "media", rank: 3, folder: "src/media/" },
  // The RTMP ingest (protocol, FLV fan-out, stats): imports only core; the kernel starts it (issue 15).
  { name: "live", rank: 3, folder: "src/live/" },
  { name: "plugins", rank: 4, folder: "plugins/", sealed: true },
  { name: "worker", rank: 5, folder: "src/worker/" },
  { name: "kernel", rank: 6, folder: "src/kernel/" },
  // The `webencode` CLI talks to the kernel over its public API only; nothing imports it.
  { name: "cli", rank: 6, folder: "src/cli/" },
  // The web dashboard runs in the browser and uses the public REST API and SSE only; nothing imports it.
  { name: "ui", rank: 6, folder: "src/ui/", isolated: true },
];

/** Folders that product code must never import (they are not shipped). */
const NOT_SHIPPED = ["test/", "scripts/", "bench/"];

/**
 * Edges the design wants although they break a rule above: the executables carry the standard plugins, and
 * the plugin runtime starts one by importing its entry point lazily (src/plugin-runtime/builtin.ts). Nothing else of a
 * plugin is imported from outside it.
 */
export const SANCTIONED: ReadonlyArray<{ from: string; to: RegExp; why: string }> = [
  { from: "src/plugin-runtime/builtin.ts", to: /^plugins\/[^/]+\/plugin\.ts$/, why: "built-in plugins are loaded by their entry point" },
];

export type Rule = "upward" | "sideways" | "sealed" | "not-shipped" | "plugin-api" | "unlayered" | "isolated";

/**
 * What a plugin implementation may import from src/: core, the pure media library, and the SDK side of the
 * plugin runtime — never the host, the bus, the database, the worker or the kernel. What a plugin and its host
 * both need (key rules, the URL signing format, auth-basic's user record) lives in src/plugin-runtime/shared/.
 */
export const PLUGIN_API: RegExp[] = [/^src\/core\//, /^src\/media\//, /^src\/plugin-runtime\/(sdk|pillars|protocol)\.ts$/, /^src\/plugin-runtime\/shared\//];

export interface Violation {
  from: string;
  to: string;
  rule: Rule;
  /** One line for a human: what is wrong with this import. */
  message: string;
}

export interface LayerReport {
  violations: Violation[];
  /** Each cycle is a list of files, the smallest path first; every file imports the next (the last the first). */
  cycles: string[][];
}

/** Module specifiers of every import, re-export, dynamic import() and `typeof import()` in a TypeScript text. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The repository-relative file a relative specifier names, or undefined for packages and unknown files. */
export function resolveImport(from: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  return [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((candidate) => files.has(candidate)) ?? (/\.tsx?$/.test(base) ? base : undefined);
}

/** The layer of a file and, for a sealed layer, its unit (e.g. `plugins/storage-fs/`). */
export function layerOf(file: string): { layer: Layer; unit: string } | undefined {
  const layer = LAYERS.find((l) => file.startsWith(l.folder));
  if (!layer) return undefined;
  const unit = layer.sealed ? `${layer.folder}${file.slice(layer.folder.length).split("/")[0]}/` : layer.folder;
  return { layer, unit };
}

/** The rule an import from `from` to `to` breaks, if any. */
export function checkImport(from: string, to: string): Violation | undefined {
  const source = layerOf(from);
  if (!source) return undefined;
  if (NOT_SHIPPED.some((folder) => to.startsWith(folder))) {
    return { from, to, rule: "not-shipped", message: `${from} imports ${to}, which is not part of the product` };
  }
  const target = layerOf(to);
  if (!target || SANCTIONED.some((s) => s.from === from && s.to.test(to))) return undefined;
  const { layer: a } = source;
  const { layer: b } = target;
  if ((a.isolated || b.isolated) && a !== b) {
    return { from, to, rule: "isolated", message: `${from} imports ${to}: ${a.isolated ? a.folder : b.folder} (${a.isolated ? a.name : b.name}) is browser code that shares no module with the rest` };
  }
  if (a.sealed && !b.sealed && !PLUGIN_API.some((allowed) => allowed.test(to))) {
    return { from, to, rule: "plugin-api", message: `${from} imports ${to}: a plugin imports only src/core, src/media and the SDK (src/plugin-runtime/sdk.ts, pillars.ts, protocol.ts, shared/)` };
  }
  if (b.sealed && source.unit !== target.unit) {
    return { from, to, rule: "sealed", message: `${from} imports ${to}, an internal of the plugin in ${target.unit}` };
  }
  if (b.rank > a.rank) {
    return { from, to, rule: "upward", message: `${from} (${a.name}) imports ${to} (${b.name}), a higher layer` };
  }
  if (b.rank === a.rank && b !== a) {
    return { from, to, rule: "sideways", message: `${from} (${a.name}) imports ${to} (${b.name}): layers of one rank are independent` };
  }
  return undefined;
}

/** Import edges (repository-relative) of a set of files given as path → text. */
export function importEdges(sources: Readonly<Record<string, string>>): Array<{ from: string; to: string }> {
  const files = new Set(Object.keys(sources));
  const edges: Array<{ from: string; to: string }> = [];
  for (const [from, text] of Object.entries(sources)) {
    for (const specifier of importSpecifiers(text)) {
      const to = resolveImport(from, specifier, files);
      if (to) edges.push({ from, to });
    }
  }
  return edges;
}

/** Strongly connected components with more than one file (or a file importing itself), via Tarjan. */
export function importCycles(edges: ReadonlyArray<{ from: string; to: string }>): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  // Iterative, so a long chain of imports cannot overflow the call stack.
  for (const root of [...next.keys()].sort()) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; children: string[]; i: number }> = [];
    const visit = (node: string) => {
      index.set(node, counter);
      low.set(node, counter++);
      stack.push(node);
      onStack.add(node);
      work.push({ node, children: [...new Set(next.get(node) ?? [])].sort(), i: 0 });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      if (frame.i < frame.children.length) {
        const child = frame.children[frame.i++]!;
        if (!index.has(child)) visit(child);
        else if (onStack.has(child)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfImport = component.length === 1 && (next.get(frame.node) ?? []).includes(frame.node);
      if (component.length > 1 || selfImport) components.push(orderCycle(component, next));
    }
  }
  return components.sort((x, y) => x[0]!.localeCompare(y[0]!));
}

/** A component's files in import order from its smallest path, so a report reads as a chain a → b → … → a. */
function orderCycle(component: string[], next: Map<string, string[]>): string[] {
  const members = new Set(component);
  const start = [...component].sort()[0]!;
  const order = [start];
  const seen = new Set(order);
  let current = start;
  for (;;) {
    const following = (next.get(current) ?? []).filter((n) => members.has(n) && !seen.has(n)).sort()[0];
    if (!following) break;
    order.push(following);
    seen.add(following);
    current = following;
  }
  // A component is not always one ring: list any member the chain did not reach after it.
  return [...order, ...[...component].filter((m) => !seen.has(m)).sort()];
}

/** Every rule broken and every cycle in a set of files (path → text). */
export function checkLayers(sources: Readonly<Record<string, string>>): LayerReport {
  const edges = importEdges(sources);
  // A file in no layer would be checked against nothing: a new folder must be placed in LAYERS first.
  const unlayered: Violation[] = Object.keys(sources)
    .filter((file) => !layerOf(file))
    .map((file) => ({ from: file, to: "", rule: "unlayered", message: `${file} is in no layer: add its folder to LAYERS (scripts/lib/layers.ts, docs/architecture.md §1)` }));
  const violations = [...unlayered, ...edges.map((e) => checkImport(e.from, e.to)).filter((v): v is Violation => v !== undefined)];
  const unique = new Map(violations.map((v) => [`${v.from} -> ${v.to}`, v]));
  return { violations: [...unique.values()].sort((x, y) => `${x.from}${x.to}`.localeCompare(`${y.from}${y.to}`)), cycles: importCycles(edges) };
}
