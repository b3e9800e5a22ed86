// Prints every route the kernel registers with the role the policy table requires (src/kernel/auth/policy.ts):
// `bun scripts/list-routes.ts`. Builds the app without starting anything (no database, no bus).
import { createLogger } from "../src/core/logger.ts";
import { createApp } from "../src/kernel/api/app.ts";
import { accessFor } from "../src/kernel/auth/policy.ts";
import { loadKernelConfig } from "../src/kernel/config.ts";

const config = loadKernelConfig({ DATA_DIR: "/nonexistent" });
const app = createApp({ config, metrics: {}, logger: createLogger("routes", "silent") } as never);
const rows = app.routes.map((r) => [r.method, r.path, accessFor(r.method, r.path)?.role ?? "NO POLICY (refused)", accessFor(r.method, r.path)?.action ?? ""]);
for (const [method, path, role, action] of rows.sort((a, b) => a[1]!.localeCompare(b[1]!) || a[0]!.localeCompare(b[0]!))) console.log(`${method!.padEnd(7)} ${path!.padEnd(58)} ${role!.padEnd(9)} ${action}`);
