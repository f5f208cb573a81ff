import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { registryStoreContract } from "./registry-contract.js";

registryStoreContract("memory", async () => ({
  store: createMemoryRegistryStore(),
  dispose: async () => {},
}));
