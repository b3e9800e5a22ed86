/**
 * Prometheus metrics (prom-client). Each process owns one registry; modules register their metrics on it
 * where the work happens. Names follow the operator runbook (`webencode_*`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * How often the event-loop lag metrics (`nodejs_eventloop_lag_*`) sample the loop. prom-client's default,
 * 10 ms, wakes an idle process 100 times a second: measured at ~0.7 % of a core on its own, most of an idle
 * kernel's CPU (docs/BENCHMARKS.md, "Footprint"). At 100 ms a stall of 100 ms or more is still measured in
 * full and shorter ones are sampled.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}

export { Counter, Gauge, Histogram, Registry };
