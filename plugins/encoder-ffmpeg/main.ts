/** Standalone entry of encoder-ffmpeg (`bun build --compile plugins/encoder-ffmpeg/main.ts`): speaks the plugin protocol on stdio. */
import plugin from "./plugin.ts";
import { servePlugin } from "../../src/plugin-runtime/sdk.ts";

await servePlugin(plugin);
