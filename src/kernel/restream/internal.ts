/**
 * The restream task's claim (`GET /internal/restreams/:id/claim`, api/restreams.ts): the only place stream keys
 * leave the kernel. The worker presents the task's restream token; the answer has the enabled destinations
 * with their keys opened, and the position the previous attempt reached (resume). A restream that is not
 * running any more (stopped, deleted) answers 404: its task ends at once.
 */
import { AppError } from "../../core/errors.ts";
import type { SecretBox } from "../../core/secret-box.ts";
import type { Db } from "../../db/client.ts";
import type { RestreamDestination } from "../../media/restream/args.ts";
import { bearerToken } from "../live/token.ts";
import { openDestinations, type StoredDestination } from "./request.ts";
import { getRestream } from "./store.ts";
import { verifyRestreamToken } from "./token.ts";

export interface RestreamClaim {
  destinations: RestreamDestination[];
  position_s: number;
  input_duration_s: number | null;
}

export async function claimRestream(db: Db, box: SecretBox, restreamId: string, authorization: string | null): Promise<RestreamClaim> {
  const check = verifyRestreamToken(box, bearerToken(authorization), restreamId, Date.now());
  if (!check.ok) throw new AppError("WE-STR-008", `restream token refused (${check.reason}): the claim takes the token of the restream's task`);
  const row = await getRestream(db, restreamId);
  if (row.status !== "starting" && row.status !== "live") throw new AppError("WE-STR-009", `restream ${restreamId} is not running (${row.status})`);
  return {
    destinations: openDestinations(row.destinations as unknown as StoredDestination[], box),
    position_s: row.positionS,
    input_duration_s: row.inputDurationS,
  };
}
