/** The bus: one contract (types.ts), two implementations (NATS JetStream, in-process). */
export * from "./types.ts";
export type { BusLogger } from "./common.ts";
export { MemoryBus, type MemoryBusOptions } from "./memory.ts";
export { connectNatsBus, type NatsBusOptions } from "./nats.ts";
