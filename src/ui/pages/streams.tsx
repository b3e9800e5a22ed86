/** Live streams: the navigation slot, ready for the live-streaming API (GET /v1/streams) once it exists. */
import { ApiError } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, Status, useApi } from "../components.tsx";

interface Stream {
  id: string;
  name?: string;
  status: string;
}

export function Streams() {
  const loaded = useApi<{ items: Stream[] }>("/v1/streams");
  // A kernel without the live-streaming API answers 404 for the route: that is the empty state, not an error.
  const missing = loaded.error instanceof ApiError && loaded.error.status === 404;
  return (
    <Page title="Streams">
      {missing ? <Empty>Live streaming arrives with the live-streaming release of WebEncode; this kernel has no streams API yet.</Empty> : <ErrorBox error={loaded.error} />}
      {!loaded.data ? (loaded.error ? null : <Loading />) : loaded.data.items.length === 0 ? <Empty>No live streams. Create one through the API.</Empty> : (
        <ul class="list">{loaded.data.items.map((s) => <li><code>{s.id}</code> {s.name} <Status status={s.status} /></li>)}</ul>
      )}
    </Page>
  );
}
