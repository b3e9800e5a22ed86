/**
 * The RTMP server's callback and session shapes (src/live/ingest/types.ts), under the names the streams
 * domain uses. Type-only: the session manager depends on the shapes, not on the server module.
 */
export type {
  IngestEndReason,
  IngestSession as IngestSessionLike,
  IngestStats as IngestStatsView,
  PublishDecision,
  PublishRequest,
} from "../../live/ingest/types.ts";
