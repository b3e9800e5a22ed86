/** `webencode health`, `workers ls|drain|undrain`, `profiles ls|get`: thin views of the REST API. */
import type { Command } from "commander";
import { printJson, printTable, say, shortTime } from "../output.ts";
import { runtimeOf } from "../runtime.ts";

type Row = Record<string, unknown>;
const str = (error: unknown) => (error == null ? "-" : Array.isArray(error) ? error.join(",") : typeof error === "object" ? JSON.stringify(error) : String(error));

export function systemCommands(program: Command): void {
  program
    .command("health")
    .summary("the kernel's health (GET /v1/health, no key needed)")
    .action(async (_o: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const h = await rt.client().get<Row>("/v1/health");
      if (rt.output.json) return printJson(h);
      process.stdout.write(`${str(h.status)} ${Object.entries(h).filter(([k]) => k !== "status").map(([k, v]) => `${k}=${str(v)}`).join(" ")}\n`);
    });

  const workers = program.command("workers").summary("list, drain and undrain workers");
  workers
    .command("ls")
    .summary("the workers and what they run")
    .action(async (_o: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const page = await rt.client().get<{ items: Row[] }>("/v1/workers");
      if (rt.output.json) return printJson(page);
      printTable(
        ["ID", "HOSTNAME", "STATUS", "POOLS", "DRAIN", "LAST SEEN (UTC)"],
        page.items.map((w) => [str(w.id), str(w.hostname), str(w.status), str(w.pools), w.drain_requested ? "yes" : "no", shortTime(w.last_seen_at)]),
      );
    });
  for (const action of ["drain", "undrain"] as const) {
    workers
      .command(action)
      .summary(action === "drain" ? "stop giving a worker new tasks (running ones finish)" : "give a drained worker tasks again")
      .argument("<id>", "worker id")
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const w = await rt.client().post<Row>(`/v1/workers/${encodeURIComponent(id)}/${action}`);
        if (rt.output.json) return printJson(w);
        say(`worker ${id}: ${action} requested`);
      });
  }

  const profiles = program.command("profiles").summary("the encoding profiles");
  profiles
    .command("ls")
    .summary("built-in and custom profiles, and ladder ids")
    .action(async (_o: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const page = await rt.client().get<{ items: Row[]; ladders?: unknown }>("/v1/profiles");
      if (rt.output.json) return printJson(page);
      printTable(["ID", "NAME", "BUILT-IN"], page.items.map((p) => [str(p.id), str(p.name), p.builtin ? "yes" : "no"]));
    });
  profiles
    .command("get")
    .summary("one profile with its full spec (JSON)")
    .argument("<id>", "profile id")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      printJson(await runtimeOf(cmd).client().get(`/v1/profiles/${encodeURIComponent(id)}`));
    });
}
