/**
 * Prometheus metrics (prom-client). Each process owns one registry; modules register their metrics on it
 * where the work happens. Names follow the operator runbook (`webencode_*`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export { Counter, Gauge, Histogram, Registry };
