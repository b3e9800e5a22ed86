/** Submit a job: upload a file (progress, cancellable) or give a URL, pick profiles and outputs. */
import { useRef, useState } from "preact/hooks";
import { api, uploadFile, type Upload } from "../api.ts";
import { ErrorBox, Loading, Page, ProgressBar, useApi } from "../components.tsx";
import { bytes } from "../format.ts";
import { navigate } from "../router.ts";

interface Profile {
  id: string;
  name?: string;
  description?: string;
  builtin?: boolean;
}

export function NewJob() {
  const profiles = useApi<{ items: Profile[]; ladders?: Record<string, string[]> }>("/v1/profiles");
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const upload = useRef<Upload | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setError(null);
    try {
      let source = String(form.get("source_url") ?? "").trim();
      if (file) {
        setProgress(0);
        upload.current = uploadFile(file, (f) => setProgress(f * 100));
        source = (await upload.current.promise).source_url;
      }
      const job = await api<{ id: string }>("POST", "/v1/jobs", {
        source_url: source,
        profiles: form.getAll("profiles").map(String),
        outputs: form.getAll("outputs").map(String),
        thumbnails: form.get("poster") === "on",
      });
      navigate(`/jobs/${job.id}`);
    } catch (caught) {
      setError(caught);
      setProgress(null);
    } finally {
      upload.current = null;
    }
  };
  const ladders = Object.entries(profiles.data?.ladders ?? {}).map(([id, members]) => ({ id, profiles: members }));
  return (
    <Page title="New job">
      <form class="card form" onSubmit={submit} data-test="new-job-form">
        <fieldset>
          <legend>Source</legend>
          <label class="drop" onDragOver={(e) => e.preventDefault()} onDrop={(e) => { e.preventDefault(); setFile(e.dataTransfer?.files[0] ?? null); }}>
            Drop a video here or pick one
            <input type="file" name="file" accept="video/*,audio/*,.mkv,.mov,.mp4,.webm,.avi,.ts" data-test="file" onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)} />
          </label>
          {file ? <p class="muted">{file.name} · {bytes(file.size)}</p> : null}
          <label>…or a URL<input name="source_url" placeholder="https://example.com/video.mp4 or s3://bucket/key" disabled={file !== null} /></label>
        </fieldset>
        <fieldset>
          <legend>Profiles</legend>
          {profiles.error ? <ErrorBox error={profiles.error} /> : !profiles.data ? <Loading /> : (
            <div class="choices">
              {ladders.map((l) => <label class="check"><input type="checkbox" name="profiles" value={l.id} data-test={`profile-${l.id}`} /> <strong>{l.id}</strong> <span class="muted">ladder{l.profiles.length ? `: ${l.profiles.join(", ")}` : ""}</span></label>)}
              {profiles.data.items.map((p) => <label class="check"><input type="checkbox" name="profiles" value={p.id} data-test={`profile-${p.id}`} /> <strong>{p.id}</strong> <span class="muted">{p.description ?? p.name}</span></label>)}
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>Outputs</legend>
          <label class="check"><input type="checkbox" name="outputs" value="mp4" defaultChecked data-test="output-mp4" /> MP4 file per profile</label>
          <label class="check"><input type="checkbox" name="outputs" value="hls" data-test="output-hls" /> HLS ladder</label>
          <label class="check"><input type="checkbox" name="poster" /> Poster image</label>
        </fieldset>
        {progress !== null ? (
          <div class="upload" data-test="upload-progress">
            <ProgressBar value={progress} label="upload" />
            <button type="button" data-test="cancel-upload" onClick={() => upload.current?.cancel()}>Cancel upload</button>
          </div>
        ) : null}
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={progress !== null} data-test="submit-job">Submit</button>
      </form>
    </Page>
  );
}
