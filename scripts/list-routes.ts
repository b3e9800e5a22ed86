// Prints every route the kernel registers (method and pattern): used to keep the auth policy table complete.
import { createApp } from "../src/kernel/api/app.ts";
const app = createApp({ config: { MAX_BODY_SIZE: 1, DATA_DIR: "/nonexistent" }, metrics: {}, logger: {} } as never);
for (const r of app.routes) console.log(`${r.method} ${r.path}`);
