/**
 * Uploads, plugins and profiles through the HTTP API of an in-process kernel (real PostgreSQL, real plugin
 * subprocesses): streamed uploads and their limits, plugin listing with secrets never returned, config
 * validation by the plugin, enable/disable, built-in vs custom profiles.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;

beforeAll(async () => {
  k = await startTestKernel({ env: { UPLOAD_MAX_SIZE: "64KiB" } });
}, 60_000);
afterAll(async () => {
  await k?.stop();
});

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, any> });
const bytes = (n: number) => new Uint8Array(n).map((_, i) => i % 251);

describe("POST /v1/files", () => {
  test("multipart upload lands in storage under the returned key, byte for byte", async () => {
    const form = new FormData();
    form.append("note", "ignored field");
    form.append("file", new Blob([bytes(40_000)]), "../../etc/My Clip (1).mp4");
    const { status, body } = await json(await k.fetch("/v1/files", { method: "POST", body: form }));
    expect(status).toBe(201);
    expect(body.key).toMatch(/^uploads\/[0-9a-f-]{36}\/My_Clip_1_.mp4$/);
    expect(body.source_url).toBe(body.key);
    expect(body.size_bytes).toBe(40_000);
    const stored = new Uint8Array(await Bun.file(join(k.dataDir, "storage", body.key)).arrayBuffer());
    expect(stored).toEqual(bytes(40_000));
  });

  test("raw body with ?filename= works too, and no temporary file is left", async () => {
    const { status, body } = await json(await k.fetch("/v1/files?filename=raw.bin", { method: "POST", body: bytes(1000) }));
    expect(status).toBe(201);
    expect(body.filename).toBe("raw.bin");
    expect(Bun.file(join(k.dataDir, "storage", body.key)).size).toBe(1000);
    expect(readdirSync(join(k.dataDir, "tmp", "uploads"))).toEqual([]);
  });

  test("over the limit: 413 WE-REQ-003, declared or streamed, nothing stored", async () => {
    const declared = await json(await k.fetch("/v1/files?filename=big.bin", { method: "POST", body: bytes(70_000) }));
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe("WE-REQ-003");
    const form = new FormData();
    form.append("file", new Blob([bytes(70_000)]), "big.bin");
    const streamed = await json(await k.fetch("/v1/files", { method: "POST", body: form }));
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.code).toBe("WE-REQ-003");
    expect(readdirSync(join(k.dataDir, "tmp", "uploads"))).toEqual([]);
  });

  test("empty or missing file: 400 with a message saying what to send", async () => {
    const form = new FormData();
    form.append("other", "x");
    const none = await json(await k.fetch("/v1/files", { method: "POST", body: form }));
    expect(none.status).toBe(400);
    expect(none.body.error.message).toContain("field named `file`");
    const empty = await json(await k.fetch("/v1/files?filename=e.bin", { method: "POST", body: new Uint8Array(0) }));
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe("WE-REQ-001");
  });
});

describe("/v1/plugins", () => {
  test("lists the kernel's built-in storage plugins with state, version, capabilities; secrets only as set/unset", async () => {
    const { status, body } = await json(await k.fetch("/v1/plugins"));
    expect(status).toBe(200);
    const fs = body.items.find((p: { id: string }) => p.id === "storage-fs");
    expect(fs).toMatchObject({ pillar: "storage", state: "healthy", builtin: true, api_version: "1.0", schemes: ["file", "fs"] });
    expect(fs.secrets).toEqual({ url_signing_key: "set" });
    expect(JSON.stringify(body)).not.toContain(String(fs.config.url_signing_key ?? "no-such-value"));
    expect(fs.config.url_signing_key).toBeUndefined();
    const s3 = body.items.find((p: { id: string }) => p.id === "storage-s3");
    expect(s3.state).toBe("disabled");
  });

  test("an invalid configuration is refused with 422 WE-PLG-003 and changes nothing", async () => {
    const before = (await json(await k.fetch("/v1/plugins/storage-s3"))).body;
    const { status, body } = await json(await k.fetch("/v1/plugins/storage-s3/config", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: { region: 5 } }) }));
    expect(status).toBe(422);
    expect(body.error.code).toBe("WE-PLG-003");
    expect(body.error.message).toContain("bucket");
    expect((await json(await k.fetch("/v1/plugins/storage-s3"))).body.config).toEqual(before.config);
  });

  test("secret fields are write-only: stored, shown as set, never echoed; omitting them keeps them", async () => {
    const secret = "very-secret-value-1234";
    const put = await k.fetch("/v1/plugins/storage-s3/config", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ config: { bucket: "media", region: "eu-west-1", access_key_id: "AKIA1", secret_access_key: secret } }),
    });
    const text = await put.text();
    expect(put.status).toBe(200);
    expect(text).not.toContain(secret);
    expect(text).not.toContain("AKIA1");
    const view = JSON.parse(text);
    expect(view.secrets).toEqual({ access_key_id: "set", secret_access_key: "set" });
    expect(view.config).toMatchObject({ bucket: "media", region: "eu-west-1" });
    const again = await k.fetch("/v1/plugins/storage-s3/config", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: { bucket: "media2" } }) });
    expect(((await again.json()) as { secrets: unknown }).secrets).toEqual({ access_key_id: "set", secret_access_key: "set" });
    const all = await (await k.fetch("/v1/plugins")).text();
    expect(all).not.toContain(secret);
  });

  test("the workers' encoder plugin is listed and configurable from the kernel", async () => {
    const enc = (await json(await k.fetch("/v1/plugins/encoder-ffmpeg"))).body;
    expect(enc).toMatchObject({ id: "encoder-ffmpeg", pillar: "encoder", hosted_by: "workers", workers: [] });
    expect(enc.config_schema).toHaveProperty("properties.ffmpeg_path");
    const bad = await json(await k.fetch("/v1/plugins/encoder-ffmpeg/config", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: { kill_grace_ms: "soon" } }) }));
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe("WE-PLG-003");
    const ok = await json(await k.fetch("/v1/plugins/encoder-ffmpeg/config", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: { ffmpeg_path: "/usr/bin/ffmpeg" } }) }));
    expect(ok.status).toBe(200);
    expect(ok.body.config).toEqual({ ffmpeg_path: "/usr/bin/ffmpeg" });
  });

  test("disable stops a plugin, enable starts it again; unknown ids are 404 WE-PLG-001", async () => {
    // (Not storage-fs: the last enabled storage plugin may not be disabled, test/integration/plugin-disable.test.ts.)
    const off = await json(await k.fetch("/v1/plugins/auth-basic/disable", { method: "POST" }));
    expect(off.status).toBe(200);
    expect(off.body.state).toBe("disabled");
    const on = await json(await k.fetch("/v1/plugins/auth-basic/enable", { method: "POST" }));
    expect(on.body.state).toBe("healthy");
    const missing = await json(await k.fetch("/v1/plugins/no-such-plugin"));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("WE-PLG-001");
  });
});

describe("/v1/profiles", () => {
  const custom = {
    id: "540p_custom",
    name: "540p custom",
    container: "mp4",
    video: { codec: "h264", encoder: "software", hardware_fallback: "cpu", height: 540, rate_control: { mode: "crf", crf: 23 }, preset: "fast", keyframe_interval_s: 2 },
    audio: { codec: "aac", bitrate_kbps: 96, channels: 2 },
  };
  const post = (body: unknown) => k.fetch("/v1/profiles", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("built-ins and the ladder are listed; built-ins are read-only", async () => {
    const { body } = await json(await k.fetch("/v1/profiles"));
    const ids = body.items.map((p: { id: string }) => p.id);
    for (const id of ["1080p_h264", "720p_h264", "480p_h264", "360p_h264", "4k_hevc", "1080p_vp9", "1080p_av1"]) expect(ids).toContain(id);
    expect(Object.values(body.ladders as Record<string, string[]>)).toContainEqual(["1080p_h264", "720p_h264", "480p_h264", "360p_h264"]);
    const del = await json(await k.fetch("/v1/profiles/720p_h264", { method: "DELETE" }));
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe("WE-JOB-003");
  });

  test("a custom profile is created, read, replaced and deleted", async () => {
    expect((await post(custom)).status).toBe(201);
    expect((await json(await post(custom))).status).toBe(409);
    expect((await json(await k.fetch("/v1/profiles/540p_custom"))).body.spec.video.height).toBe(540);
    const put = await k.fetch("/v1/profiles/540p_custom", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...custom, name: "renamed" }) });
    expect(((await put.json()) as { name: string }).name).toBe("renamed");
    expect((await k.fetch("/v1/profiles/540p_custom", { method: "DELETE" })).status).toBe(204);
    expect((await k.fetch("/v1/profiles/540p_custom")).status).toBe(404);
  });

  test("codec, container and encoder must fit together: 400 WE-JOB-003 naming the problem", async () => {
    const bad = await json(await post({ ...custom, id: "bad_webm", container: "webm" }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("WE-JOB-003");
    expect(bad.body.error.message).toMatch(/webm|container/);
    const noGpu = await json(await post({ ...custom, id: "nvenc_only", video: { ...custom.video, encoder: "nvenc", hardware_fallback: "fail" } }));
    expect(noGpu.status).toBe(400);
    expect(noGpu.body.error.message).toContain("cannot be encoded by any connected worker");
  });

  test("jobs naming an unknown profile are refused with WE-JOB-003 and no job is created", async () => {
    const r = await json(await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: "uploads/x.mp4", profiles: ["nope_1080p"] }) }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("WE-JOB-003");
    expect(r.body.error.message).toContain("nope_1080p");
    expect((await json(await k.fetch("/v1/jobs"))).body.items).toEqual([]);
    expect(existsSync(join(k.dataDir, "storage", "jobs"))).toBe(false);
  });
});
