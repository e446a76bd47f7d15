import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn redis-servers and worker processes; two cores do not gain from more.
    maxWorkers: 2,
  },
});
