/** Standalone entry of auth-oidc (`bun build --compile plugins/auth-oidc/main.ts`): speaks the plugin protocol on stdio. */
import plugin from "./plugin.ts";
import { servePlugin } from "../../src/plugins/sdk.ts";

await servePlugin(plugin);
