/** The bus contract against the in-process bus (standalone mode). */
import { MemoryBus } from "../../src/bus/memory.ts";
import { CONTRACT_PRESENCE_TTL_MS, runBusContract } from "../contract/bus.contract.ts";

runBusContract("memory", async () => {
  const bus = new MemoryBus({ presenceTtlMs: CONTRACT_PRESENCE_TTL_MS });
  return { bus, cleanup: () => bus.close() };
});
