/** Standalone entry of publisher-twitch (`bun build --compile plugins/publisher-youtube/main.ts`): speaks the plugin protocol on stdio. */
import plugin from "./plugin.ts";
import { servePlugin } from "../../src/plugin-runtime/sdk.ts";

await servePlugin(plugin);
