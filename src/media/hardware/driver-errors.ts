/**
 * Driver failures read from FFmpeg's stderr, by the accelerators' own signatures. A driver error prints
 * words like "Invalid argument" or "Cannot allocate memory" that also appear for bad input, so the worker
 * looks here first: a hardware failure is never blamed on the user's file. Pure.
 */
import { acceleratorOfEncoder, HARDWARE_ACCELERATORS } from "./accelerators.ts";
import type { Accelerator, DriverFailure } from "./types.ts";

/**
 * The first driver failure in `stderr`, checking the given accelerators (default: all). Lines are scanned
 * in order, so the driver's own line wins over FFmpeg's generic summary after it.
 */
export function driverFailure(stderr: string, accelerators: readonly Accelerator[] = HARDWARE_ACCELERATORS): DriverFailure | undefined {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  for (const line of lines) {
    for (const a of accelerators) {
      if (a.id === "cpu") continue;
      const signature = a.signatures.find((s) => s.pattern.test(line));
      if (signature) return { accelerator: a.id, kind: signature.kind, message: line.replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/i, "") };
    }
  }
  return undefined;
}

/** Whether a failure counts against the device (degraded after repeated ones) rather than the input or the load. */
export function isDeviceFault(kind: DriverFailure["kind"]): boolean {
  return kind === "out-of-memory" || kind === "device-lost" || kind === "no-device";
}

/** The accelerators an FFmpeg argv uses: its encoders' and its hardware decode's. */
export function acceleratorsOfArgv(argv: readonly string[]): Accelerator[] {
  const used = new Set<Accelerator>();
  argv.forEach((arg, i) => {
    const value = argv[i + 1];
    if (value === undefined) return;
    if (arg === "-c:v" || arg === "-vcodec") {
      const a = acceleratorOfEncoder(value);
      if (a.id !== "cpu") used.add(a);
    }
    if (arg === "-hwaccel") {
      const a = HARDWARE_ACCELERATORS.find((x) => x.decodeArgs({}).includes(value));
      if (a) used.add(a);
    }
  });
  return [...used];
}

/** The device a hardware argv runs on, as an operator names it: "GPU 1", "/dev/dri/renderD129", or undefined (the default). */
export function deviceOfArgv(argv: readonly string[]): string | undefined {
  const at = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const gpu = at("-gpu") ?? (at("-hwaccel") === "cuda" ? at("-hwaccel_device") : undefined);
  if (gpu !== undefined) return `GPU ${gpu}`;
  const node = argv.map((a) => /^vaapi=va:(.+)$/.exec(a)?.[1]).find((x) => x !== undefined);
  return node;
}
