/**
 * Driving the web dashboard in headless Chromium (test/helpers/browser.ts) for test/e2e/dashboard*.test.ts:
 * navigation, waiting on page conditions, typing, clicking, picking a file, screenshots, and every console
 * error or uncaught exception the page produced (a test asserts there were none).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchBrowser, type Browser } from "./browser.ts";
import { ROOT } from "./proc.ts";
import { waitFor } from "./wait.ts";

/** Screenshots go to docs/ui/ only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean. */
export const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS === "1" ? join(ROOT, "docs", "ui") : undefined;

export interface Dashboard {
  browser: Browser;
  base: string;
  /** "console.error: …" / "exception: …" lines the page produced. */
  problems: string[];
  goto(path: string): Promise<void>;
  eval<T = unknown>(expression: string): Promise<T>;
  waitFor(expression: string, what: string, timeoutMs?: number): Promise<void>;
  type(selector: string, text: string): Promise<void>;
  click(selector: string): Promise<void>;
  setFile(selector: string, path: string): Promise<void>;
  /** A PNG of the viewport at 3/4 scale into SCREENSHOT_DIR (when set). */
  screenshot(name: string): Promise<void>;
  resize(width: number, height: number): Promise<void>;
  close(): Promise<void>;
}

export async function openDashboard(base: string): Promise<Dashboard> {
  const browser = await launchBrowser();
  const problems: string[] = [];
  browser.on("Runtime.consoleAPICalled", (p: { type: string; args: Array<{ value?: unknown; description?: string }> }) => {
    if (p.type === "error" || p.type === "assert") problems.push(`console.${p.type}: ${p.args.map((a) => a.value ?? a.description).join(" ")}`);
  });
  browser.on("Runtime.exceptionThrown", (p: { exceptionDetails: { text: string; exception?: { description?: string } } }) => {
    problems.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
  });
  // CSP violations are reported on the console as errors ("Refused to …"): collected above.
  await browser.send("Runtime.enable");
  await browser.send("Page.enable");
  await browser.send("DOM.enable");
  const d: Dashboard = {
    browser,
    base,
    problems,
    async goto(path) {
      await browser.send("Page.navigate", { url: `${base}${path}` });
      await d.waitFor(`document.readyState === "complete" && location.pathname === ${JSON.stringify(path.split("?")[0])}`, `${path} to load`);
    },
    eval: (expression) => browser.evaluate(expression),
    async waitFor(expression, what, timeoutMs = 60_000) {
      await waitFor(async () => Boolean(await browser.evaluate(`(() => { try { return Boolean(${expression}); } catch { return false; } })()`)), timeoutMs, what, 100);
    },
    async type(selector, text) {
      await d.waitFor(`document.querySelector(${JSON.stringify(selector)})`, `${selector} to appear`);
      await browser.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.focus(); e.value = ""; })()`);
      await browser.send("Input.insertText", { text });
    },
    async click(selector) {
      await d.waitFor(`document.querySelector(${JSON.stringify(selector)}) && !document.querySelector(${JSON.stringify(selector)}).disabled`, `${selector} to be clickable`);
      await browser.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
    },
    async setFile(selector, path) {
      await d.waitFor(`document.querySelector(${JSON.stringify(selector)})`, `${selector} to appear`);
      const { root } = await browser.send<{ root: { nodeId: number } }>("DOM.getDocument", { depth: 0 });
      const { nodeId } = await browser.send<{ nodeId: number }>("DOM.querySelector", { nodeId: root.nodeId, selector });
      await browser.send("DOM.setFileInputFiles", { nodeId, files: [path] });
    },
    async screenshot(name) {
      if (!SCREENSHOT_DIR) return;
      const { width, height } = await browser.evaluate<{ width: number; height: number }>("({ width: innerWidth, height: innerHeight })");
      // At 3/4 scale: small files that still read well in docs/ui/README.md.
      const { data } = await browser.send<{ data: string }>("Page.captureScreenshot", { format: "png", clip: { x: 0, y: 0, width, height, scale: 0.75 } });
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      writeFileSync(join(SCREENSHOT_DIR, `${name}.png`), Buffer.from(data, "base64"));
    },
    async resize(width, height) {
      await browser.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: width < 700 });
    },
    close: () => browser.close(),
  };
  await d.resize(1280, 860);
  return d;
}

/** Signs in on the sign-in page with an API key (the session stays in sessionStorage). */
export async function signInWithKey(d: Dashboard, key: string): Promise<void> {
  await d.goto("/");
  await d.type("[data-test=api-key]", key);
  await d.click("[data-test=sign-in]");
  await d.waitFor(`document.querySelector("[data-test=who]")`, "the signed-in shell");
}

/** Signs out (the button), back on the sign-in form. */
export async function signOut(d: Dashboard): Promise<void> {
  await d.click("[data-test=sign-out]");
  await d.waitFor(`document.querySelector("[data-test=api-key]")`, "the sign-in form after signing out");
}

/** Navigates inside the single-page app (a nav link click: no reload). */
export async function navTo(d: Dashboard, page: string): Promise<void> {
  await d.click(`[data-test=nav-${page}]`);
}
