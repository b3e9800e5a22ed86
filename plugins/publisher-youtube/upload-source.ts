/**
 * Reading byte ranges of the file to upload (VodUploadParams.source): a local path (storage-fs on the kernel's
 * host) or a URL answering Range requests (a presigned S3 URL, a storage-fs signed link). One chunk at a time,
 * so memory stays at one chunk however large the video is, and a resumed upload reads from any offset.
 */
import type { UploadSource } from "../../src/plugin-runtime/pillars.ts";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";

export interface ChunkReader {
  /** Bytes [start, end) of the file; exactly end - start of them. */
  read(start: number, end: number, signal?: AbortSignal): Promise<Uint8Array>;
}

export function chunkReader(pluginId: string, source: UploadSource): ChunkReader {
  if ("path" in source && typeof source.path === "string" && source.path) {
    const file = Bun.file(source.path);
    return {
      async read(start, end) {
        const bytes = new Uint8Array(await file.slice(start, end).arrayBuffer());
        if (bytes.length !== end - start) throw new PluginError("WE-STO-001", `${pluginId}: the output file ended at ${start + bytes.length} bytes, before the ${end} expected (was it replaced?)`);
        return bytes;
      },
    };
  }
  const url = "url" in source && typeof source.url === "string" ? source.url : "";
  if (!/^https?:\/\//.test(url)) throw new PluginError("WE-REQ-001", `${pluginId}: source must be a local path or an http(s) URL`);
  return {
    async read(start, end, signal) {
      let response: Response;
      try {
        response = await fetch(url, { headers: { range: `bytes=${start}-${end - 1}` }, signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(120_000)]) : AbortSignal.timeout(120_000) });
      } catch (e) {
        throw new PluginError("WE-STO-004", `${pluginId}: could not read the output from storage: ${(e as Error).message.replace(/https?:\/\/\S+/g, "<url>")}`, { retryable: true });
      }
      // The URL itself is a credential (signed): it is never put in a message.
      if (response.status !== 206 && response.status !== 200) throw new PluginError("WE-STO-004", `${pluginId}: storage answered HTTP ${response.status} for the output's bytes ${start}-${end - 1}`, { status: response.status });
      const whole = new Uint8Array(await response.arrayBuffer());
      // A server that ignores Range answers 200 with the whole object: take the slice.
      const bytes = response.status === 200 ? whole.subarray(start, end) : whole;
      if (bytes.length !== end - start) throw new PluginError("WE-STO-004", `${pluginId}: storage answered ${bytes.length} bytes for the output's bytes ${start}-${end - 1}`);
      return bytes;
    },
  };
}
