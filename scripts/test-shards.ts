/**
 * `bun scripts/test-shards.ts N`: prints the test files split into N balanced shards, one shard per line
 * (paths separated by spaces). Used by scripts/test.sh to run the suite in parallel.
 */
import { statSync } from "node:fs";
import { Glob } from "bun";
import { planShards } from "./lib/shards.ts";

const n = Number(process.argv[2] ?? 2);
const files = [...new Glob("test/**/*.test.ts").scanSync({ cwd: `${import.meta.dir}/..` })].map((path) => ({
  path,
  bytes: statSync(`${import.meta.dir}/../${path}`).size,
}));
for (const shard of planShards(files, n)) process.stdout.write(`${shard.join(" ")}\n`);
