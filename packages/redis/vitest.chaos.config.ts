import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "redis-chaos",
    include: ["test/**/*.chaos.test.ts"],
    // The chaos run keeps both cores busy for about a minute with its own processes: a group of its own, after
    // the others, so that it neither slows their timing nor is slowed by them.
    sequence: { groupOrder: 2 },
  },
});
