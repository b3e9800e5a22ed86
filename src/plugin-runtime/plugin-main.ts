/** Development entry for built-in plugins (`bun src/plugin-runtime/plugin-main.ts <id>`); compiled builds use `__plugin`. */
import { runPluginIfRequested, PLUGIN_ARG } from "./entry.ts";

await runPluginIfRequested([PLUGIN_ARG, process.argv[2] ?? ""]);
