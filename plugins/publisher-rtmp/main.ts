/** Standalone entry of publisher-rtmp (`bun build --compile plugins/publisher-rtmp/main.ts`): speaks the plugin protocol on stdio. */
import plugin from "./plugin.ts";
import { servePlugin } from "../../src/plugin-runtime/sdk.ts";

await servePlugin(plugin);
