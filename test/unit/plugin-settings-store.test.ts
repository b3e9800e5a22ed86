/**
 * Splitting a plugin's settings into plain values and secrets (src/kernel/plugin-registry/settings-store.ts).
 */
import { describe, expect, test } from "bun:test";
import { splitSecrets } from "../../src/kernel/plugin-registry/settings-store.ts";

describe("splitSecrets", () => {
  test("secret fields go apart; plain fields are kept as given", () => {
    const { plain, secrets } = splitSecrets(
      { bucket: "media", region: "eu-west-1", access_key_id: "AKIA123", secret_access_key: "s3cr3t", force_path_style: false, endpoint: null },
      ["access_key_id", "secret_access_key"],
    );
    expect(plain).toEqual({ bucket: "media", region: "eu-west-1", force_path_style: false, endpoint: null });
    expect(secrets).toEqual({ access_key_id: "AKIA123", secret_access_key: "s3cr3t" });
  });

  test("empty, null and undefined secrets are dropped (so a stored secret is kept); non-strings are stringified", () => {
    const { plain, secrets } = splitSecrets({ a: "", b: null, c: undefined, d: 1234, e: true, keep: "" }, ["a", "b", "c", "d", "e", "missing"]);
    expect(plain).toEqual({ keep: "" });
    expect(secrets).toEqual({ d: "1234", e: "true" });
    expect("missing" in secrets).toBe(false);
  });

  test("no secret fields → everything plain", () => {
    expect(splitSecrets({ x: 1 }, [])).toEqual({ plain: { x: 1 }, secrets: {} });
  });
});
