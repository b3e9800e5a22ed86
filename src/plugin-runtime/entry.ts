/** `<executable> __plugin <id>`: run one built-in plugin on stdio instead of the executable's main. */
import { BUILTIN_PLUGINS } from "./builtin.ts";
import { servePlugin } from "./sdk.ts";

export const PLUGIN_ARG = "__plugin";

export async function runPluginIfRequested(argv: string[]): Promise<boolean> {
  if (argv[0] !== PLUGIN_ARG) return false;
  const id = argv[1] ?? "";
  const builtin = BUILTIN_PLUGINS[id];
  if (!builtin) {
    process.stderr.write(`no built-in plugin named "${id}" (known: ${Object.keys(BUILTIN_PLUGINS).join(", ")})\n`);
    process.exit(2);
  }
  await servePlugin(await builtin.load());
  return true;
}
