/** Bitrate options shared by every encoder that takes a target bitrate. Pure. */
import type { RateControl } from "../../core/profile-spec.ts";
import { kbps } from "../args/units.ts";

export function bitrateArgs(rc: Extract<RateControl, { mode: "bitrate" }>): string[] {
  const args = ["-b:v", kbps(rc.bitrate_kbps)];
  if (rc.maxrate_kbps !== undefined) args.push("-maxrate", kbps(rc.maxrate_kbps));
  if (rc.bufsize_kbps !== undefined) args.push("-bufsize", kbps(rc.bufsize_kbps));
  return args;
}
