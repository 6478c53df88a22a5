import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "filters/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Kernel tests share the XDP dispatcher and bpffs; keep files in one process at a time.
    fileParallelism: false,
    globalSetup: ["test/support/hygiene.ts"],
  },
});
