/**
 * The test encode that proves an encoder: the same device, upload and encoder options as the real pipeline
 * (pipeline.ts, the accelerators' encoderArgs), on one tiny frame to the null muxer. Listing proves nothing
 * (Debian lists NVENC on every machine; some datacenter GPUs have no encoder). Pure.
 */
import { codecOfEncoder } from "./accelerators.ts";
import { inputArgs, rungChain } from "./pipeline.ts";
import type { Accelerator, DeviceRef } from "./types.ts";

/** The one-frame source: tiny, but every hardware encoder's minimum size and alignment (16) is met. */
const TEST_INPUT = ["-f", "lavfi", "-i", "color=c=black:s=256x256:r=25:d=0.04", "-frames:v", "1"];
const TEST_SIZE = 256;

/** argv (without the binary) of the test encode of `encoder` on `device`. */
export function testEncodeArgv(encoder: string, a: Accelerator, device: DeviceRef = {}): string[] {
  const codec = codecOfEncoder(encoder) ?? "h264";
  return [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    ...inputArgs(a, device, false),
    ...TEST_INPUT,
    "-vf",
    rungChain(a, { width: TEST_SIZE, height: TEST_SIZE, encoder }, false),
    ...a.encoderArgs(encoder, { codec, rate_control: { mode: "crf", crf: 30 } }, device, false),
    "-f",
    "null",
    "-",
  ];
}
