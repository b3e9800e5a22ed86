/**
 * A headless Chromium (Debian's chromium-headless-shell) driven over the Chrome DevTools Protocol, for the
 * few tests that need a real browser (Swagger UI's Try it out). No extra npm package: the protocol is JSON
 * over one WebSocket. `close()` kills the browser and removes its profile directory.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Debian's /usr/bin/chromium-headless-shell is a shell script that runs the browser without exec: killing it
// would leave the browser running. The real executable is started directly when it is there.
const DEBIAN_BINARY = "/usr/lib/chromium/chromium-headless-shell";
const BINARY = process.env.CHROMIUM_PATH ?? (existsSync(DEBIAN_BINARY) ? DEBIAN_BINARY : "chromium-headless-shell");

export interface Browser {
  /** Runs a CDP method on the page (e.g. "Page.navigate"). */
  send<T = any>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Calls `handler` with the params of every CDP event named `method` (e.g. "Runtime.consoleAPICalled"). */
  on(method: string, handler: (params: any) => void): void;
  /** Evaluates an expression in the page (awaiting a returned promise) and returns its JSON value. */
  evaluate<T = any>(expression: string): Promise<T>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!Bun.which(BINARY)) throw new Error(`${BINARY} not found: install it with apt-get install chromium-headless-shell (scripts/test.sh does), or set CHROMIUM_PATH`);
  const profile = mkdtempSync(join(tmpdir(), "webencode-chromium-"));
  const proc = Bun.spawn([BINARY, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const cleanup = () => {
    proc.kill();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const browserWs = await devtoolsUrl(proc.stderr);
    const port = new URL(browserWs).port;
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
    const page = targets.find((t) => t.type === "page");
    if (!page) throw new Error("chromium opened no page");
    const ws = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("cannot connect to chromium's page"));
    });
    let next = 1;
    const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
    const listeners = new Map<string, Array<(params: unknown) => void>>();
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message: string } };
      if (msg.method) for (const handler of listeners.get(msg.method) ?? []) handler(msg.params);
      const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
      if (!p) return;
      pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    };
    const send = <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    return {
      send,
      on(method: string, handler: (params: any) => void) {
        listeners.set(method, [...(listeners.get(method) ?? []), handler]);
      },
      async evaluate<T>(expression: string) {
        const r = await send<{ result: { value?: T }; exceptionDetails?: { exception?: { description?: string }; text: string } }>("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
        if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async close() {
        ws.close();
        cleanup();
        await proc.exited;
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** Chromium prints "DevTools listening on ws://…" on stderr once it accepts connections. */
async function devtoolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 30_000;
  const reader = stderr.getReader();
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
    if (m) {
      // Keep reading: a full stderr pipe would stall the browser.
      void (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done);
      })();
      return m[1]!;
    }
  }
  throw new Error(`chromium did not start: ${text.slice(-500)}`);
}
