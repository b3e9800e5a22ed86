/** Small building blocks shared by the pages: loading data, errors, empty states, progress. */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api.ts";
import { percent } from "./format.ts";
import { navigate } from "./router.ts";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  reload: () => void;
}

/** GET `path` (again whenever it changes or reload() is called). */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    api<T>("GET", path).then(
      (data) => live && setState({ data }),
      (error) => live && setState((s) => ({ data: s.data, error })),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, reload };
}

/** The API's error as it answered: code and message (403 says so). */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, "UI", error instanceof Error ? error.message : String(error));
  return (
    <div class="error" role="alert" data-test="error">
      {e.status === 403 ? <strong>Not allowed (403): </strong> : null}
      <code data-test="error-code">{e.code}</code> <span data-test="error-message">{e.message}</span>
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty" data-test="empty">{children}</div>;
}

export function Loading() {
  return <p class="muted" aria-busy="true">Loading…</p>;
}

export function ProgressBar({ value, label }: { value: number; label?: string }) {
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(value)} aria-label={label ?? "progress"}>
      <div class="progress-fill" style={{ width: `${Math.min(100, Math.max(0, value))}%` }} />
      <span class="progress-text">{percent(value)}</span>
    </div>
  );
}

export function Link({ href, children, ...rest }: { href: string; children: ComponentChildren; class?: string; "data-test"?: string }) {
  return (
    <a
      href={href}
      {...rest}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function Status({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

/** Runs an action and keeps its error for display; `busy` while it runs. */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (action: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      after?.();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, busy, run, setError };
}

export function Page({ title, actions, children }: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · WebEncode`;
  }, [title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title" tabIndex={-1}>{title}</h1>
        <div class="actions">{actions}</div>
      </header>
      {children}
    </section>
  );
}
