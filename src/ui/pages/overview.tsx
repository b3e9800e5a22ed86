/** Jobs by state, workers at a glance, throughput of the last hour and recent failures. */
import { api, ApiError, apiText } from "../api.ts";
import { queuesFromMetrics, type PoolQueue } from "../metrics-text.ts";
import { Empty, ErrorBox, Link, Loading, Page, Status, useApi } from "../components.tsx";
import { age, duration } from "../format.ts";
import type { JobSummary } from "../job-view.ts";
import { useEffect, useState } from "preact/hooks";

const STATES = ["queued", "analyzing", "processing", "packaging", "completed", "failed", "cancelled"];

interface Worker {
  id: string;
  status: string;
  healthy: boolean;
  running: number;
  slots: number;
  pools: string[];
  drain_requested?: boolean;
}

/** Completed jobs per 5-minute bucket of the last hour. */
function buckets(jobs: JobSummary[], now: number): number[] {
  const counts = Array.from({ length: 12 }, () => 0);
  for (const job of jobs) {
    const finished = Date.parse(String(job.finished_at ?? ""));
    const slot = Math.floor((now - finished) / 300_000);
    if (slot >= 0 && slot < 12) counts[11 - slot]!++;
  }
  return counts;
}

function useCounts() {
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    Promise.all(STATES.map((s) => api<{ items: unknown[] }>("GET", `/v1/jobs?status=${s}&limit=200`).then((r) => [s, r.items.length] as const)))
      .then((pairs) => setCounts(Object.fromEntries(pairs)), setError);
  }, []);
  return { counts, error };
}

function useQueues() {
  const [queues, setQueues] = useState<PoolQueue[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    apiText("/metrics").then((text) => setQueues(queuesFromMetrics(text)), setError);
  }, []);
  return { queues, error };
}

export function Overview() {
  const now = Date.now();
  const { counts, error } = useCounts();
  const workers = useApi<{ items: Worker[] }>("/v1/workers");
  const hour = new Date(now - 3600_000).toISOString();
  const done = useApi<{ items: JobSummary[] }>(`/v1/jobs?status=completed&created_after=${hour}&limit=200`);
  const failed = useApi<{ items: JobSummary[] }>("/v1/jobs?status=failed&limit=5");
  const streams = useApi<{ items: Array<{ is_live: boolean }> }>("/v1/streams?limit=200");
  const queues = useQueues();
  const noStreamsApi = streams.error instanceof ApiError && streams.error.status === 404;
  const series = buckets(done.data?.items ?? [], now);
  const peak = Math.max(1, ...series);
  const w = workers.data?.items ?? [];
  return (
    <Page title="Overview">
      <ErrorBox error={error ?? workers.error} />
      <div class="grid">
        <div class="card">
          <h2>Jobs by state</h2>
          {counts ? (
            <ul class="stats" data-test="job-counts">{STATES.map((s) => <li><Link href={`/jobs?status=${s}`}><Status status={s} /> <strong>{counts[s] === 200 ? "200+" : counts[s]}</strong></Link></li>)}</ul>
          ) : <Loading />}
        </div>
        <div class="card">
          <h2>Workers</h2>
          {w.length === 0 ? <Empty>No worker is connected. Start one with <code>webencode-worker</code> (docs/deployment.md).</Empty> : (
            <ul class="stats">
              <li>healthy <strong>{w.filter((x) => x.healthy).length}</strong></li>
              <li>busy <strong>{w.filter((x) => x.running > 0).length}</strong></li>
              <li>draining <strong>{w.filter((x) => x.drain_requested || x.status === "draining").length}</strong></li>
              <li>slots in use <strong>{w.reduce((n, x) => n + x.running, 0)} / {w.reduce((n, x) => n + x.slots, 0)}</strong></li>
            </ul>
          )}
        </div>
        <div class="card" data-test="queues-card">
          <h2>Queues</h2>
          <ErrorBox error={queues.error} />
          {queues.queues === null ? (queues.error ? null : <Loading />) : queues.queues.length === 0 ? <Empty>No pool has queued work.</Empty> : (
            <table data-test="queues">
              <thead><tr><th>Pool</th><th>Waiting</th><th>Oldest</th></tr></thead>
              <tbody>{queues.queues.map((q) => <tr><td>{q.pool}</td><td>{q.depth}</td><td>{q.depth > 0 ? duration(q.oldestSeconds) : "–"}</td></tr>)}</tbody>
            </table>
          )}
        </div>
        <div class="card">
          <h2>Completed in the last hour</h2>
          <svg class="chart" viewBox="0 0 120 40" role="img" aria-label={`completed jobs per 5 minutes: ${series.join(", ")}`}>
            {series.map((n, i) => <rect x={i * 10 + 1} y={40 - (n / peak) * 38} width={8} height={(n / peak) * 38} />)}
          </svg>
          <p class="muted small">{series.reduce((a, b) => a + b, 0)} jobs, in 5-minute bars</p>
        </div>
        <div class="card">
          <h2>Live streams</h2>
          {noStreamsApi ? <Empty>Live streaming arrives with the live-streaming release; streams will be listed here.</Empty> : streams.data ? (
            <ul class="stats">
              <li><Link href="/streams">live <strong data-test="live-streams">{streams.data.items.filter((s) => s.is_live).length}</strong></Link></li>
              <li>configured <strong>{streams.data.items.length}</strong></li>
            </ul>
          ) : <ErrorBox error={streams.error} />}
        </div>
      </div>
      <div class="card">
        <h2>Recent failures</h2>
        <ErrorBox error={failed.error} />
        {failed.data && failed.data.items.length === 0 ? <Empty>No failed jobs. </Empty> : null}
        <ul class="list">
          {(failed.data?.items ?? []).map((j) => (
            <li><Link href={`/jobs/${j.id}`}>{j.id.slice(0, 8)}</Link> <code>{j.error?.code}</code> {j.error?.message} <span class="muted">{age(String(j.finished_at ?? j.created_at), now)}</span></li>
          ))}
        </ul>
      </div>
    </Page>
  );
}
