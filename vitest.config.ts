import {defineConfig} from 'vitest/config'

const testEnvSetup = './test/setup/integration-env.ts'
// The run's own TMPDIR; fails the run when a test leaves a homeops-*/hotest-* entry in it.
const tmpGuard = './test/setup/tmp-guard.ts'

export default defineConfig({
  test: {
    // The default output, and test-results/vitest.json for scripts/summarize-tests.mjs.
    reporters: ['default', 'json'],
    outputFile: {json: 'test-results/vitest.json'},
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          globalSetup: [tmpGuard],
          sequence: {groupOrder: 0},
        },
      },
      {
        // Against the real components of scripts/testenv.sh; files share one daemon, so one at a time.
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: [tmpGuard, testEnvSetup],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          sequence: {groupOrder: 1},
        },
      },
      {
        // The built CLI as a process, and the web UI in headless Chromium.
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          globalSetup: [tmpGuard, testEnvSetup],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 240_000,
          sequence: {groupOrder: 2},
        },
      },
    ],
  },
})
