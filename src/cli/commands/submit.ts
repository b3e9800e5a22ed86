/** `webencode submit <file|url>`: upload (a local file), submit, and optionally follow and download. */
import { type Command, InvalidArgumentError, Option } from "commander";
import { usageError } from "../errors.ts";
import { printJson, say } from "../output.ts";
import { runtimeOf } from "../runtime.ts";
import { uploadFile } from "../transfer.ts";
import type { JobSummary } from "../watch.ts";
import { showOutputs, waitForEnd } from "./jobs.ts";

/** A source the server reads itself (no upload): a URL, an s3:// object or an existing upload key. */
export const isRemoteSource = (s: string) => /^(https?|s3):\/\//i.test(s) || /^uploads\/[^/]+\/[^/]+$/.test(s);

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];

function parsePriority(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < -100 || n > 100) throw new InvalidArgumentError("a whole number from -100 to 100");
  return n;
}

interface SubmitFlags {
  profile: string[];
  output?: string[];
  wait?: boolean;
  download?: string;
  priority?: number;
}

export function submitCommand(program: Command): void {
  program
    .command("submit")
    .summary("upload a file (or name a URL) and submit a job; --wait follows it to the end")
    .argument("<source>", "a local file (uploaded first), an http(s):// or s3:// URL, or an uploads/… key")
    .requiredOption("-p, --profile <ids>", "profile id(s), repeatable or comma-separated (see GET /v1/profiles)", collect)
    .addOption(new Option("-o, --output <kinds>", "mp4 and/or hls (default mp4)").argParser(collect))
    .option("-w, --wait", "follow the job live until it ends; exit 0 completed, 1 failed, 3 cancelled")
    .option("-d, --download <dir>", "with --wait: download the outputs into dir when the job completed")
    .option("--priority <n>", "-100..100 (default 0)", parsePriority)
    .addHelpText(
      "after",
      `
Examples:
  webencode submit clip.mp4 --profile 720p_h264 --wait --download out/
  webencode submit https://example.com/in.mp4 -p hls_h264_ladder -o hls --wait
  ID=$(webencode submit clip.mp4 -p 360p_h264 --json | jq -r .id)`,
    )
    .action(async (source: string, opts: SubmitFlags, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const outputs = opts.output ?? ["mp4"];
      const bad = outputs.filter((o) => o !== "mp4" && o !== "hls");
      if (bad.length) throw usageError(`--output: unknown ${bad.join(", ")}; use mp4 or hls`);
      if (opts.download && !opts.wait) throw usageError("--download needs --wait (or use `webencode jobs outputs ID --download DIR` later)");
      const client = rt.client();
      const sourceUrl = isRemoteSource(source) ? source : (await uploadFile(client, source)).source_url;
      const job = await client.post<JobSummary>("/v1/jobs", {
        source_url: sourceUrl,
        profiles: opts.profile,
        outputs,
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
      });
      say(`job ${job.id} submitted (${opts.profile.join(", ")} → ${outputs.join(", ")})`);
      if (!opts.wait) {
        if (rt.output.json) printJson(job);
        else process.stdout.write(`${job.id}\n`);
        return;
      }
      await waitForEnd(client, job.id, { json: rt.output.json });
      await showOutputs(client, job.id, { json: rt.output.json, download: opts.download });
    });
}
