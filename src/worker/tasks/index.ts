/** Task type → handler. A Record over every TaskType: adding a type fails compilation until it is handled. */
import type { TaskType } from "../../core/messages.ts";
import type { TaskHandler } from "../executor.ts";
import { analyzeTask } from "./analyze.ts";
import { audioTask } from "./audio.ts";
import { packageTask } from "./package.ts";
import { videoTask } from "./video.ts";

export const TASK_HANDLERS: Record<TaskType, TaskHandler> = {
  analyze: analyzeTask,
  video: videoTask,
  audio: audioTask,
  package: packageTask,
};
