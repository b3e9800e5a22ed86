/**
 * Reading Prometheus text expositions in tests: samples with their labels, sums over matching series, the
 * metric families a scrape declares, and `promtool check metrics` with the lint findings that are known and
 * accepted (see acceptedLint).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  text: string;
  samples: Sample[];
  /** Metric family name → type, from the `# TYPE` lines. */
  types: Map<string, string>;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) types.set(t[1]!, t[2]!);
      continue;
    }
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\"/g, '"').replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
    const v = m[3]!;
    samples.push({ name: m[1]!, labels, value: v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v) });
  }
  return { text, samples, types };
}

/** The series of `name` whose labels include `labels`. */
export function series(s: Scrape, name: string, labels: Record<string, string> = {}): Sample[] {
  return s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
}

/** Sum of the matching series (0 when there is none). */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return series(s, name, labels).reduce((a, x) => a + x.value, 0);
}

export async function scrape(url: string, init?: RequestInit): Promise<Scrape> {
  const r = await fetch(url, init);
  const text = await r.text();
  if (r.status !== 200) throw new Error(`GET ${url} → ${r.status}: ${text.slice(0, 300)}`);
  return parseExposition(text);
}

/**
 * promtool's naming lint flags gauges whose name ends in `_total`. Two kinds exist and are accepted:
 * prom-client's default `nodejs_active_*_total` gauges, and the runbook's fixed `webencode_jobs_total{status}`
 * (jobs currently in each status: a gauge, so the runbook's backlog alert can compare it with a threshold).
 */
const ACCEPTED_LINT = /^(nodejs_active_(handles|requests|resources)_total|webencode_jobs_total) non-counter metrics should not have "_total" suffix$/;

/**
 * Runs `promtool check metrics` on an exposition. Returns the exit code and the findings that are not
 * accepted; exit 1 (a parse error) or any other finding is a failure for the caller to assert on.
 */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; problems: string[]; output: string }> {
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const output = `${out}${err}`;
  const problems = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !ACCEPTED_LINT.test(l));
  return { code, problems, output };
}
