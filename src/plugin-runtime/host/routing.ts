/**
 * Deterministic plugin routing (docs/plugins.md §11): an explicit id wins; otherwise the highest priority among the
 * usable plugins of the pillar (and, for storage, serving the URL's scheme), ties broken by id; when none is
 * usable, the first one that is (re)starting, whose call then waits for it. Never iteration order. Pure.
 */
import { AppError } from "../../core/errors.ts";
import type { Pillar } from "../protocol.ts";

export interface Routable {
  id: string;
  pillar: Pillar | undefined;
  priority: number;
  schemes: string[];
  usable: boolean;
  /** (Re)starting: chosen when nothing usable serves the call; the call then waits for it (supervisor.ts). */
  pending?: boolean;
  disabled: boolean;
}

export function choosePlugin<T extends Routable>(plugins: T[], pillar: Pillar, want: { id?: string; scheme?: string } = {}): T {
  if (want.id) {
    const p = plugins.find((x) => x.id === want.id && x.pillar === pillar);
    if (!p) throw new AppError("WE-PLG-001", `no ${pillar} plugin with id ${want.id}`);
    if (p.disabled) throw new AppError("WE-PLG-002", `plugin ${p.id} is disabled`);
    if (!p.usable && !p.pending) throw new AppError("WE-PLG-004", `plugin ${p.id} is not running`);
    return p;
  }
  const candidates = plugins
    .filter((p) => p.pillar === pillar && !p.disabled && (want.scheme === undefined || p.schemes.includes(want.scheme)))
    .sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
  const usable = candidates.find((p) => p.usable) ?? candidates.find((p) => p.pending);
  if (usable) return usable;
  const what = want.scheme ? `${pillar} plugin for ${want.scheme}:// URLs` : `${pillar} plugin`;
  if (candidates.length) throw new AppError("WE-PLG-005", `no healthy ${what} (${candidates.map((c) => c.id).join(", ")} not running)`);
  throw new AppError("WE-PLG-001", `no ${what} is installed or enabled`);
}

/** The scheme that selects a storage plugin: `s3://b/k` → s3; a bare key or a path → fs. */
export function storageSchemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!m) return "fs";
  const scheme = m[1]!.toLowerCase();
  return scheme === "file" ? "file" : scheme;
}
