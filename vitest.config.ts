import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // a pid directory per run: no redis-server or role process outlives it (see the file)
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn redis-servers and worker processes; two cores do not gain from more.
    maxWorkers: 2,
  },
});
