import { defineConfig } from 'vitest/config';

/** `npm run test:cluster`: the suites on the clustered services of `nudge services up --cluster` (issue #21). */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 180_000,
  },
});
