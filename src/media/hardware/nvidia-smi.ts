/**
 * What `nvidia-smi` says about the GPUs, parsed: utilization, memory and encoder sessions per GPU, for the
 * worker's metrics and its memory check before it takes a GPU task. Pure; the worker runs the command.
 */

/** The query the worker runs (CSV without header or units). */
export const NVIDIA_SMI_QUERY = ["--query-gpu=index,utilization.gpu,memory.used,memory.total,encoder.stats.sessionCount", "--format=csv,noheader,nounits"];

export interface GpuSample {
  index: number;
  /** 0–1. */
  utilization: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  encoderSessions: number;
}

const MIB = 1024 * 1024;

/** One sample per GPU line; lines with "[N/A]" or "[Not Supported]" fields keep 0 for those fields. */
export function parseNvidiaSmi(text: string): GpuSample[] {
  const samples: GpuSample[] = [];
  for (const line of text.split(/\r?\n/)) {
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length < 5 || !/^\d+$/.test(fields[0] ?? "")) continue;
    const num = (f: string | undefined) => (f !== undefined && /^\d+(\.\d+)?$/.test(f) ? Number(f) : 0);
    samples.push({
      index: Number(fields[0]),
      utilization: num(fields[1]) / 100,
      memoryUsedBytes: num(fields[2]) * MIB,
      memoryTotalBytes: num(fields[3]) * MIB,
      encoderSessions: num(fields[4]),
    });
  }
  return samples;
}
