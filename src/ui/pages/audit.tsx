/** The audit log (admin), filtered by actor, action and date, newest first. */
import { Empty, ErrorBox, Loading, Page, Status, useApi } from "../components.tsx";
import { timestamp } from "../format.ts";
import { navigate } from "../router.ts";
import { withQuery } from "../routes.ts";

interface Entry {
  id: number;
  at: string;
  actor: string;
  actor_role: string | null;
  method: string;
  route: string;
  action: string;
  target: string | null;
  status: number;
  client_ip: string | null;
}

export function Audit({ query }: { query: Record<string, string> }) {
  const path = withQuery("/v1/audit", { actor: query.actor, action: query.action, since: query.since ? `${query.since}T00:00:00Z` : undefined, limit: 50, before: query.before });
  const loaded = useApi<{ items: Entry[]; next_before: number | null }>(path);
  const set = (change: Record<string, string | undefined>) => navigate(withQuery("/audit", { ...query, before: undefined, ...change }));
  const items = loaded.data?.items;
  return (
    <Page title="Audit log">
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>Actor<input value={query.actor ?? ""} onChange={(e) => set({ actor: (e.currentTarget as HTMLInputElement).value })} placeholder="key:… or user:…" /></label>
        <label>Action<input value={query.action ?? ""} onChange={(e) => set({ action: (e.currentTarget as HTMLInputElement).value })} placeholder="jobs.* or jobs.create" /></label>
        <label>Since<input type="date" value={query.since ?? ""} onChange={(e) => set({ since: (e.currentTarget as HTMLInputElement).value })} /></label>
      </form>
      <ErrorBox error={loaded.error} />
      {!items ? (loaded.error ? null : <Loading />) : items.length === 0 ? <Empty>No entries match. Clear the filters to see every change made through the API.</Empty> : (
        <div class="table-wrap">
          <table>
            <thead><tr><th>At (UTC)</th><th>Actor</th><th>Action</th><th>Target</th><th>Status</th><th>Client</th></tr></thead>
            <tbody>
              {items.map((a) => (
                <tr><td>{timestamp(a.at)}</td><td class="small">{a.actor} ({a.actor_role ?? "–"})</td><td>{a.action}</td><td class="small"><code>{a.target ?? ""}</code></td><td><Status status={String(a.status)} /></td><td>{a.client_ip ?? ""}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loaded.data?.next_before ? <button type="button" onClick={() => set({ ...query, before: String(loaded.data!.next_before) })}>Older entries</button> : null}
    </Page>
  );
}
