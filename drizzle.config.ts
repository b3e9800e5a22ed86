import { defineConfig } from "drizzle-kit";

// `bun run db:generate` writes a new SQL migration into migrations/ from src/db/schema.ts.
// Generate serially on main: drizzle applies a migration only when it is newer than the last applied one.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
