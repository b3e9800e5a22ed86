/**
 * docs/errors.md stays in step with the error catalogue (src/core/errors.ts): every code is documented, with
 * its catalogue status and title in its table row, and the document names no code that does not exist.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ERROR_CATALOGUE } from "../../src/core/errors.ts";

const DOC = join(import.meta.dir, "../../docs/errors.md");
const codes = Object.keys(ERROR_CATALOGUE) as Array<keyof typeof ERROR_CATALOGUE>;

async function doc(): Promise<string> {
  const file = Bun.file(DOC);
  if (!(await file.exists())) throw new Error(`${DOC} is missing`);
  return file.text();
}

describe("docs/errors.md", () => {
  test("mentions every code of ERROR_CATALOGUE", async () => {
    const text = await doc();
    const missing = codes.filter((code) => !text.includes(code));
    expect(missing).toEqual([]);
  });

  test("has a catalogue row per code: | `code` | status | title |, as in the catalogue", async () => {
    const text = await doc();
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const wrong = codes.filter((code) => {
      const { status, title } = ERROR_CATALOGUE[code];
      return !new RegExp(`^\\| \`${code}\` \\| ${status} \\| ${escape(title)} \\|`, "m").test(text);
    });
    expect(wrong).toEqual([]);
  });

  test("names no code outside the catalogue", async () => {
    const text = await doc();
    const named = new Set(text.match(/WE-[A-Z]+-\d{3}/g) ?? []);
    const unknown = [...named].filter((code) => !(code in ERROR_CATALOGUE));
    expect(unknown).toEqual([]);
  });
});
