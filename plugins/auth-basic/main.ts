/** Standalone entry of auth-basic (`bun build --compile plugins/auth-basic/main.ts`): speaks the plugin protocol on stdio. */
import plugin from "./plugin.ts";
import { servePlugin } from "../../src/plugin-runtime/sdk.ts";

await servePlugin(plugin);
