/**
 * The product version (package.json, inlined at build time), the git commit the binaries were built from
 * (scripts/lib/compile.ts passes it with `--define`; "dev" when running from source) and the compatibility
 * rule between kernels and workers (docs/deployment.md, "Upgrades and versions").
 */
import pkg from "../../package.json" with { type: "json" };

declare const WEBENCODE_COMMIT: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof WEBENCODE_COMMIT === "string" ? WEBENCODE_COMMIT : "dev";
/** What `--version` prints after the binary's name: semver build metadata carries the commit (0.1.0+1a2b3c4d5e6f). */
export const VERSION_WITH_COMMIT = `${VERSION}+${COMMIT}`;

/** major.minor of a version string ("0.4.2-rc.1" → [0, 4]); undefined when it is not one. */
export function releaseLine(version: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.\d+/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * Kernel N works with workers N−1 and N, where N is the release line (major.minor; patch releases never
 * change what crosses the bus). A worker newer than its kernel is not supported: upgrades go kernels first,
 * then workers (the runbook's order), so that state never arises in a correct rolling upgrade.
 */
export function workerCompatibility(kernelVersion: string, workerVersion: string): "same" | "previous" | "incompatible" {
  const k = releaseLine(kernelVersion);
  const w = releaseLine(workerVersion);
  if (!k || !w || k[0] !== w[0]) return "incompatible";
  if (k[1] === w[1]) return "same";
  return w[1] === k[1] - 1 ? "previous" : "incompatible";
}

/**
 * The readiness entry for the versions of the workers a kernel sees (`/v1/system/health` →
 * checks.worker_versions): a warning naming every worker outside the rule, so a half-finished upgrade shows.
 */
export function workerVersionCheck(kernelVersion: string, workers: { id: string; version: string }[]): { status: "ok" | "warn"; detail: string } {
  const bad = workers.filter((w) => workerCompatibility(kernelVersion, w.version) === "incompatible");
  if (bad.length) {
    const list = bad.map((w) => `${w.id} (${w.version})`).join(", ");
    return { status: "warn", detail: `incompatible with kernel ${kernelVersion} (kernel N works with workers N-1 and N; upgrade kernels first, then workers): ${list}` };
  }
  const previous = workers.filter((w) => workerCompatibility(kernelVersion, w.version) === "previous").length;
  return { status: "ok", detail: previous ? `${previous} of ${workers.length} on the previous release line (compatible; upgrade them next)` : `${workers.length} on ${kernelVersion.split(".").slice(0, 2).join(".")}` };
}
