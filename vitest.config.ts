import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // every file: Object.prototype and Array.prototype unchanged at its end
    setupFiles: ['./test/support/prototype-guard.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
})
