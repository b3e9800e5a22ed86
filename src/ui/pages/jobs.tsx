/** Jobs, newest first, with filters and pages; progress and state follow the event stream live. */
import { useEffect, useState } from "preact/hooks";
import { followEvents } from "../api.ts";
import { Empty, ErrorBox, Link, Loading, Page, ProgressBar, Status, useApi } from "../components.tsx";
import { duration, timestamp } from "../format.ts";
import { applyToList, type JobSummary } from "../job-view.ts";
import { can } from "../roles.ts";
import { navigate } from "../router.ts";
import { withQuery } from "../routes.ts";
import { session } from "../session.ts";

const PAGE = 25;

export function Jobs({ query }: { query: Record<string, string> }) {
  const offset = Number(query.offset ?? 0) || 0;
  const path = withQuery("/v1/jobs", { status: query.status, profile: query.profile || undefined, created_after: query.after ? `${query.after}T00:00:00Z` : undefined, limit: PAGE, offset });
  const loaded = useApi<{ items: JobSummary[] }>(path);
  const [jobs, setJobs] = useState<JobSummary[] | undefined>();
  useEffect(() => setJobs(loaded.data?.items), [loaded.data]);
  useEffect(
    () =>
      followEvents({ types: "job.*" }, (event) => {
        if (event.type === "job.created") return loaded.reload();
        setJobs((list) => (list ? applyToList(list, event) : list));
      }),
    [],
  );
  const filter = (change: Record<string, string | undefined>) => navigate(withQuery("/jobs", { ...query, offset: undefined, ...change }));
  // Every filter is the API's (GET /v1/jobs?profile=…): a new job reloads the list, events only update rows.
  const shown = jobs ?? [];
  return (
    <Page title="Jobs" actions={can(session.value?.role, "operator") ? <Link href="/jobs/new" class="button primary" data-test="new-job">New job</Link> : null}>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>State
          <select value={query.status ?? ""} onChange={(e) => filter({ status: (e.currentTarget as HTMLSelectElement).value })}>
            <option value="">any</option>
            {["queued", "analyzing", "processing", "packaging", "completed", "failed", "cancelled"].map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <label>Profile<input data-test="profile-filter" value={query.profile ?? ""} onChange={(e) => filter({ profile: (e.currentTarget as HTMLInputElement).value })} placeholder="e.g. 720p_h264" /></label>
        <label>Created since<input type="date" value={query.after ?? ""} onChange={(e) => filter({ after: (e.currentTarget as HTMLInputElement).value })} /></label>
      </form>
      <ErrorBox error={loaded.error} />
      {jobs === undefined ? (loaded.error ? null : <Loading />) : shown.length === 0 ? (
        <Empty>No jobs here. {can(session.value?.role, "operator") ? <><Link href="/jobs/new">Submit a job</Link> or clear the filters.</> : "Clear the filters, or ask an operator to submit one."}</Empty>
      ) : (
        <div class="table-wrap">
          <table data-test="jobs-table">
            <thead><tr><th>Job</th><th>State</th><th>Progress</th><th>ETA</th><th>Profiles</th><th>Created (UTC)</th></tr></thead>
            <tbody>
              {shown.map((j) => (
                <tr data-job={j.id}>
                  <td><Link href={`/jobs/${j.id}`}><code>{j.id.slice(0, 8)}</code></Link></td>
                  <td><Status status={j.status} />{j.error ? <code class="small"> {j.error.code}</code> : null}</td>
                  <td><ProgressBar value={j.progress} /></td>
                  <td>{j.eta_seconds === null ? "–" : duration(j.eta_seconds)}</td>
                  <td>{j.profiles.join(", ")}</td>
                  <td>{timestamp(j.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="pages">
        <button type="button" disabled={offset === 0} onClick={() => filter({ offset: String(Math.max(0, offset - PAGE)), status: query.status, profile: query.profile, after: query.after })}>Newer</button>
        <span class="muted">{offset + 1}–{offset + (jobs?.length ?? 0)}</span>
        <button type="button" disabled={(jobs?.length ?? 0) < PAGE} onClick={() => filter({ offset: String(offset + PAGE), status: query.status, profile: query.profile, after: query.after })}>Older</button>
      </nav>
    </Page>
  );
}
