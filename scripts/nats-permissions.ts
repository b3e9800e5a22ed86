// Prints a nats-server `authorization` block with a kernel user (full access to the prefix) and a worker
// user (only what a worker does), for one BUS_PREFIX: `bun scripts/nats-permissions.ts --prefix webencode`.
// The lists come from src/bus/nats-permissions.ts; docs/security.md "NATS permissions per role" explains them.
import { natsAuthorizationBlock } from "../src/bus/nats-permissions.ts";
import { PREFIX_RE } from "../src/bus/subjects.ts";

const USAGE = `Usage: bun scripts/nats-permissions.ts [--prefix BUS_PREFIX] [--kernel-user NAME] [--worker-user NAME]
Prints a nats-server authorization block; paste it into nats.conf and replace the passwords.
Defaults: --prefix $BUS_PREFIX or "webencode", users webencode-kernel and webencode-worker.`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

const opts: Record<string, string> = { prefix: process.env.BUS_PREFIX || "webencode", "kernel-user": "webencode-kernel", "worker-user": "webencode-worker" };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--help" || arg === "-h") {
    console.log(USAGE);
    process.exit(0);
  }
  const [flag, inline] = arg.split("=", 2) as [string, string | undefined];
  const key = flag.replace(/^--/, "");
  if (!flag.startsWith("--") || !(key in opts)) fail(`unknown argument: ${arg}`);
  const value = inline ?? args[++i];
  if (!value) fail(`${flag} needs a value`);
  opts[key] = value;
}
if (!PREFIX_RE.test(opts.prefix!)) fail(`invalid --prefix ${JSON.stringify(opts.prefix)}: BUS_PREFIX is 1-32 letters, digits, _ or -, starting with a letter`);

process.stdout.write(
  [
    "# Passwords: replace both placeholders. nats-server also accepts bcrypt hashes (`nats server passwd`).",
    "# Kernels: NATS_USER/NATS_PASSWORD of the kernel user; workers: those of the worker user.",
    natsAuthorizationBlock(opts.prefix!, {
      kernel: { user: opts["kernel-user"]!, password: "CHANGE-ME-kernel-password" },
      worker: { user: opts["worker-user"]!, password: "CHANGE-ME-worker-password" },
    }),
  ].join("\n"),
);
