import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // On the clustered services (`npm run test:cluster`), not the single ones `npm test` starts.
    exclude: ['test/cluster/**', '**/node_modules/**'],
    // Property-based suites run thousands of cases; the default 5 s is about a slow shared machine, not a bug.
    testTimeout: 60_000,
  },
});
