/** The product version, taken from package.json at build time (the compiled binaries carry it inline). */
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;
