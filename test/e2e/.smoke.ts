import { Cluster, generateClip, ffmpegWrapper, slowVideo, logLines } from "../helpers/cluster.ts";
import { join } from "node:path";
const c = await Cluster.create({ name: "smoke", env: { LEASE_TTL: "3s", BUS_ACK_WAIT: "5s" } });
try {
  const t0 = Date.now();
  const clip = await generateClip(join(c.scratch, "clip.mp4"), { seconds: 6 });
  console.log("clip", Date.now() - t0);
  const k = await c.startKernel("k1");
  console.log("kernel", Date.now() - t0);
  const wrap = ffmpegWrapper(c.scratch, "slow", [slowVideo(0.75)]);
  const w = await c.startWorker("w1", { FFMPEG_PATH: wrap });
  console.log("worker", Date.now() - t0);
  const key = c.addSource("sources/clip.mp4", clip);
  const job = await c.submit(k, { source_url: key, profiles: ["360p_h264"] });
  const s = await c.waitJob(job.id, ["completed"], 120_000);
  console.log("job", s, Date.now() - t0);
  const v = await c.job(k, job.id);
  for (const t of v.tasks) console.log(t.type, t.seq, t.status, t.attempts.map(a => [a.worker_id, a.outcome, a.started_at, a.finished_at]));
  console.log(await c.deliveryViolations([job.id]));
  console.log(logLines(w.proc).map(l => `${l.time} ${l.msg} ${l.type ?? ""}`).join("\n"));
} finally { await c.dispose(); }
