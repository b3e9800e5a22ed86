/**
 * The OpenAPI document a kernel serves at /swagger/json (what Swagger UI's "Try it out" works from): every
 * operation has a 2xx response and the error envelope for its errors, request bodies have schemas and
 * realistic examples (the job example is valid and names real profiles and an upload key), POST /v1/files is
 * a file picker, wildcard paths have a named parameter — and the documented calls work as documented.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { jobRequestSchema } from "../../src/kernel/api/jobs.ts";
import { completeDocument, RESPONSES } from "../../src/kernel/api/openapi-doc.ts";
import { parseProfile } from "../../src/media/profile-spec.ts";
import { BUILTIN_PROFILES } from "../../src/media/profiles-builtin.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

type Json = Record<string, any>;
let k: TestKernel;
let doc: Json;

beforeAll(async () => {
  k = await startTestKernel();
  const r = await fetch(`${k.url}/swagger/json`); // public: no credentials
  expect(r.status).toBe(200);
  doc = (await r.json()) as Json;
}, 60_000);
afterAll(async () => {
  await k?.stop();
});

const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })));
const resolve = (r: Json): Json => (r.$ref ? doc.components.responses[(r.$ref as string).split("/").pop()!] : r);

describe("GET /swagger/json", () => {
  test("every operation has responses: a 2xx, and every error response is the envelope", () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const { path, method, op } of ops) {
      const statuses = Object.keys(op.responses ?? {});
      // A redirect is the success of a browser flow (GET /v1/publishers/{id}/connect: 302 to the provider).
      if (!statuses.some((s) => /^2\d\d$/.test(s) || s === "302")) problems.push(`${method} ${path}: no 2xx`);
      if (!statuses.includes("500")) problems.push(`${method} ${path}: no 500`);
      for (const s of statuses.filter((x) => Number(x) >= 400)) {
        const media = resolve(op.responses[s]).content?.["application/json"];
        if (media?.schema?.$ref !== "#/components/schemas/Error") problems.push(`${method} ${path} ${s}: not the envelope`);
        if (!/^WE-[A-Z]+-\d{3}$/.test(media?.example?.error?.code ?? "")) problems.push(`${method} ${path} ${s}: no example code`);
      }
    }
    expect(problems).toEqual([]);
    expect(doc.components.schemas.Error.properties.error.required).toEqual(["code", "message", "request_id"]);
  });

  test("every operation has its own success response (a new route gets an entry in RESPONSES, openapi-doc.ts)", () => {
    const undocumented = operations()
      .map(({ method, path }) => `${method.toUpperCase()} ${path}`)
      .filter((key) => !RESPONSES[key]);
    expect(undocumented).toEqual([]);
  });

  test("routes that need credentials document 401 and 403; public ones do not", () => {
    const get = (p: string, m: string) => (doc.paths as Json)[p][m] as Json;
    expect(Object.keys(get("/v1/jobs", "post").responses)).toEqual(expect.arrayContaining(["201", "400", "401", "403"]));
    expect(Object.keys(get("/v1/jobs/{id}", "get").responses)).toEqual(expect.arrayContaining(["200", "404"]));
    expect(Object.keys(get("/v1/health", "get").responses)).not.toContain("401");
  });

  test("the job-create example is valid, names built-in profiles and an upload key, and a sane priority", () => {
    const media = doc.paths["/v1/jobs"].post.requestBody.content["application/json"];
    expect(Object.keys(doc.paths["/v1/jobs"].post.requestBody.content)).toEqual(["application/json"]);
    expect(media.schema.properties.source_url.type).toBe("string");
    const example = media.example as Json;
    expect(v.safeParse(jobRequestSchema, example).success).toBe(true);
    for (const p of example.profiles) expect(Object.keys(BUILTIN_PROFILES)).toContain(p);
    expect(example.source_url).toMatch(/^uploads\/[0-9a-f-]{36}\/[^/]+$/);
    expect(example.priority).toBe(0);
    expect(doc.paths["/v1/jobs"].post.responses["201"].content["application/json"].example.source_url).toBe(example.source_url);
  });

  test("the profile example is a valid custom profile, and the body schema is the profile's", () => {
    const media = doc.paths["/v1/profiles"].post.requestBody.content["application/json"];
    expect(() => parseProfile(media.example)).not.toThrow();
    expect(media.schema.required).toEqual(expect.arrayContaining(["id", "name", "container", "video", "audio"]));
  });

  test("every JSON request body has a schema (Try it out needs one)", () => {
    const empty = operations()
      .filter(({ op }) => op.requestBody)
      .filter(({ op }) => !Object.values(op.requestBody.content ?? {}).some((m) => (m as Json).schema))
      .map(({ method, path }) => `${method} ${path}`);
    expect(empty).toEqual([]);
  });

  test("POST /v1/files is a file picker: multipart/form-data with a binary `file`", () => {
    const body = doc.paths["/v1/files"].post.requestBody;
    const schema = body.content["multipart/form-data"].schema;
    expect(schema.properties.file).toMatchObject({ type: "string", format: "binary" });
    expect(schema.required).toEqual(["file"]);
  });

  test("wildcard routes get a named {key} parameter; no path keeps a *", () => {
    expect(Object.keys(doc.paths).filter((p) => p.includes("*"))).toEqual([]);
    const del = doc.paths["/v1/files/{key}"].delete;
    expect(del.parameters).toContainEqual(expect.objectContaining({ name: "key", in: "path", required: true }));
    expect(Object.keys(del.responses)).toEqual(expect.arrayContaining(["204", "404", "409"]));
  });
});

describe("the documented calls, as Swagger UI would send them", () => {
  test("upload (multipart `file`), then the job example with the returned key: 201 with the documented fields", async () => {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(2048)]), "clip.mp4");
    const up = await k.fetch("/v1/files", { method: "POST", body: form });
    expect(up.status).toBe(201);
    const uploaded = (await up.json()) as Json;
    for (const f of doc.components.schemas.UploadCreated.required) expect(uploaded).toHaveProperty(f);

    const example = { ...doc.paths["/v1/jobs"].post.requestBody.content["application/json"].example, source_url: uploaded.key };
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(example) });
    expect(r.status).toBe(201);
    const job = (await r.json()) as Json;
    for (const f of doc.components.schemas.Job.required) expect(job).toHaveProperty(f);

    const missing = await k.fetch("/v1/files/uploads%2Fnone%2Fclip.mp4", { method: "DELETE" });
    expect(missing.status).toBe(404);
    const body = (await missing.json()) as Json;
    expect(Object.keys(body.error).sort()).toEqual(expect.arrayContaining(["code", "message", "request_id"]));
  });
});

describe("completeDocument (pure)", () => {
  test("adds responses and components without changing its input", () => {
    const input = { openapi: "3.0.3", paths: { "/v1/jobs/{id}": { get: { parameters: [{ name: "id", in: "path" }] } } }, components: {} };
    const snapshot = JSON.stringify(input);
    const out = completeDocument(input);
    expect(JSON.stringify(input)).toBe(snapshot);
    expect(Object.keys(out.paths["/v1/jobs/{id}"].get.responses).sort()).toEqual(["200", "400", "401", "403", "404", "429", "500"]);
    expect(out.components.responses.Error404.content["application/json"].schema.$ref).toBe("#/components/schemas/Error");
  });
});
