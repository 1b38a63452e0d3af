import { defineConfig } from 'vitest/config';

const ci = Boolean(process.env.CI);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // 2 cores: peers (PostgreSQL, moto) plus DuckDB are heavy; keep file parallelism modest.
    maxWorkers: 2,
    // CI gets one run on a loaded machine: a test that fails is run once more, and the flaky
    // reporter lists every test that needed it (with its first error) so flakes stay visible.
    retry: ci ? 1 : 0,
    reporters: ci ? ['default', './test/support/flaky-reporter.ts'] : ['default'],
  },
});
