import { describe, expect, test } from "bun:test";
import { duplicateVerdict, endsAtOnce, STALE_PUBLISHER_MS } from "../../src/kernel/live/session-rules.ts";

describe("live session rules", () => {
  const now = 1_000_000;
  test("a publish for a stream held here: healthy publisher → refuse, silent one → replace, none → resume", () => {
    expect(duplicateVerdict({ connected: true, lastDataAt: now - 100 }, now)).toBe("refuse");
    expect(duplicateVerdict({ connected: true, lastDataAt: now - STALE_PUBLISHER_MS + 1 }, now)).toBe("refuse");
    expect(duplicateVerdict({ connected: true, lastDataAt: now - STALE_PUBLISHER_MS }, now)).toBe("replace");
    expect(duplicateVerdict({ connected: false, lastDataAt: 0 }, now)).toBe("resume");
  });

  test("a dropped or silent publisher may come back within the grace; a kick, a stop or a limit ends the session at once", () => {
    for (const reason of ["publisher_closed", "idle_timeout", "protocol_error"] as const) expect(endsAtOnce(reason)).toBe(false);
    for (const reason of ["kicked", "bitrate_exceeded", "server_stopped", "replaced"] as const) expect(endsAtOnce(reason)).toBe(true);
  });
});
