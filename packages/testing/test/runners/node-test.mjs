// The store contracts under node:test, as the README shows them; test/runners.test.ts runs this file with
// `node --test` against the built package (its own name resolves to dist/ through the exports map).
import { describe, it } from "node:test";
import { memoryDeadLetters, memoryStore } from "@hookline/core";
import { runDeadLetterContract, runStoreContract } from "@hookline/testing";

runStoreContract("memory", () => memoryStore(), { describe, it });
runDeadLetterContract("memory", () => memoryDeadLetters(), { describe, it });
