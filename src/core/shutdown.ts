/**
 * Whether this process received its shutdown signal. Set by onShutdownSignal (cli.ts). Read by the plugin
 * supervisor: Ctrl-C and systemd's stop signal reach the whole process group, so plugin subprocesses exit on
 * their own a moment before the host stops them — that is a normal stop, not a crash to restart and report.
 */
export const hostShutdown = { requested: false };
