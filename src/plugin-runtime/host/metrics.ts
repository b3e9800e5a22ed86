/** Plugin metrics: RPC duration and errors per plugin and method, each plugin's state and whether it is healthy. */
import { Counter, Gauge, Histogram, type Registry } from "../../core/metrics.ts";
import type { PluginState } from "./supervisor.ts";

const STATES: PluginState[] = ["starting", "healthy", "degraded", "failed", "disabled"];

export interface PluginMetrics {
  observe(plugin: string, method: string, seconds: number, errorCode?: string): void;
  /** `pillar` comes from the plugin's manifest; before it is known (or when describe failed) it is "unknown". */
  state(plugin: string, state: PluginState, pillar?: string): void;
}

export function createPluginMetrics(registry: Registry): PluginMetrics {
  const duration = new Histogram({
    name: "webencode_plugin_rpc_duration_seconds",
    help: "Plugin RPC duration by plugin and method",
    labelNames: ["plugin", "method"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
    registers: [registry],
  });
  const errors = new Counter({
    name: "webencode_plugin_rpc_errors_total",
    help: "Plugin RPC errors by plugin, method and error code",
    labelNames: ["plugin", "method", "code"],
    registers: [registry],
  });
  const state = new Gauge({
    name: "webencode_plugin_state",
    help: "1 for the plugin's current state (starting, healthy, degraded, failed, disabled), 0 for the others",
    labelNames: ["plugin", "state"],
    registers: [registry],
  });
  const healthy = new Gauge({
    name: "webencode_plugin_healthy",
    help: "1 when the plugin is running and passing health checks, 0 otherwise (starting, degraded, failed, disabled)",
    labelNames: ["plugin", "pillar"],
    registers: [registry],
  });
  const pillars = new Map<string, string>();
  return {
    observe(plugin, method, seconds, code) {
      duration.observe({ plugin, method }, seconds);
      if (code) errors.inc({ plugin, method, code });
    },
    state(plugin, current, pillar) {
      for (const s of STATES) state.set({ plugin, state: s }, s === current ? 1 : 0);
      // Keep the pillar once learnt (a later failure may not know it) and drop the series under the old one.
      const before = pillars.get(plugin);
      const now = pillar ?? before ?? "unknown";
      if (before !== undefined && before !== now) healthy.remove({ plugin, pillar: before });
      pillars.set(plugin, now);
      healthy.set({ plugin, pillar: now }, current === "healthy" ? 1 : 0);
    },
  };
}
