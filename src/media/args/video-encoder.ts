/**
 * `-c:v` and the options of each FFmpeg video encoder a pool may use. The options themselves live with their
 * accelerator in the hardware module (media/hardware/: cpu.ts for the software encoders, nvenc.ts, qsv.ts,
 * vaapi.ts), so the test encode that proves an encoder and the real pipeline use the same ones. Only the option
 * names of NVENC, QSV and VAAPI were checked (`ffmpeg -h encoder=<name>`): they need a GPU to run.
 */
import { acceleratorOfEncoder, type DeviceRef } from "../hardware/index.ts";
import type { ProfileSpec } from "../profile-spec.ts";

/**
 * `-c:v` and everything encoder-specific for one rendition. `device`: which GPU (NVENC `-gpu`);
 * `framesOnDevice`: the encoder is fed device frames (hardware decode), so no `-pix_fmt` conversion.
 */
export function videoEncoderArgs(encoder: string, profile: ProfileSpec, device: DeviceRef = {}, framesOnDevice = false): string[] {
  return acceleratorOfEncoder(encoder).encoderArgs(encoder, profile.video, device, framesOnDevice);
}
