/** Standalone entry of storage-fs (`bun build --compile plugins/storage-fs/main.ts`): speaks the plugin protocol on stdio. */
import plugin from "./plugin.ts";
import { servePlugin } from "../../src/plugin-runtime/sdk.ts";

await servePlugin(plugin);
