import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "postgres",
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"] },
    // The suites mostly wait (on leases, servers, other processes), so files run side by side even on two cores.
    // Its own group (after the others) so that this worker count applies to it alone.
    maxWorkers: 4,
    sequence: { groupOrder: 1 },
  },
});
