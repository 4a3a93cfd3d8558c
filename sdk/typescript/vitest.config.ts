import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "typegen/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // One file at a time: the browser and two-node files time token
    // refreshes, and on a 2-core machine running them side by side made
    // those timings flaky.
    fileParallelism: false,
    maxWorkers: 2,
    minWorkers: 1,
    pool: "forks",
  },
});
