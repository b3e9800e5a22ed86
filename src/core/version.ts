/** The product version, taken from package.json at build time (the compiled binaries carry it inline). */
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
/** Plugin API major.minor spoken by this host (docs/plugins.md). */
export const PLUGIN_API_VERSION = "1.0";
