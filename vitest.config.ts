import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property-based suites run thousands of cases; the default 5 s is about a slow shared machine, not a bug.
    testTimeout: 60_000,
  },
});
