import { describe, it } from "vitest";
import { memoryDeliveries } from "../src";
import { runDeliveryStoreContract } from "../src/testing";

runDeliveryStoreContract("memory", () => memoryDeliveries(), { describe, it });
