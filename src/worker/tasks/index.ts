/** Task type → handler. A Record over every TaskType: adding a type fails compilation until it is handled. */
import type { TaskHandlers } from "../executor.ts";
import { analyzeTask } from "./analyze.ts";
import { audioTask } from "./audio.ts";
import { liveTask } from "./live.ts";
import { packageTask } from "./package.ts";
import { restreamTask } from "./restream-task.ts";
import { videoTask } from "./video.ts";

export const TASK_HANDLERS: TaskHandlers = {
  analyze: analyzeTask,
  video: videoTask,
  audio: audioTask,
  package: packageTask,
  live: liveTask,
  restream: restreamTask,
};
