import {defineConfig, type TestProjectInlineConfiguration} from 'vitest/config'

const testEnvSetup = './test/setup/integration-env.ts'
// The run's own TMPDIR; fails the run when a test leaves a homeops-*/hotest-* entry in it.
const tmpGuard = './test/setup/tmp-guard.ts'

// The Docker-facing integration tests, also run against Docker 28.x (HOMEOPS_TEST_ENGINE28=1): deploys, the CLI's
// own convergence wait and fail-fast, drift, secrets, container recreation, stats, image updates, DNS labels.
// swarm/faults.test.ts (git, files and disks; 4 minutes) and swarm/lifecycle.test.ts (watch/unwatch/stop and image
// bookkeeping; 2 minutes) run on 20.10 only, to keep the full run near 25 minutes.
const engineMatrixFiles = [
  'test/integration/swarm/{reconcile,fail-fast,image-bump,secret-echo}.test.ts',
  'test/integration/docker/*.test.ts',
  'test/integration/monitor/*.test.ts',
  'test/integration/images/watcher.test.ts',
  'test/integration/dns/docker.test.ts',
]

// Projects on the extra engines (scripts/test.sh turns both on): once asked for, they fail loudly when they cannot start.
const optIn: TestProjectInlineConfiguration[] = [
  ...(process.env.HOMEOPS_TEST_ENGINE28 === '1'
    ? [
        {
          // The same files on Debian unstable's Docker 28.x: testEnv() reads that engine's env.json.
          extends: true as const,
          test: {
            name: 'engine28',
            include: engineMatrixFiles,
            environment: 'node',
            env: {HOMEOPS_TESTENV_DIR: process.env.HOMEOPS_TESTENV_ENGINE_DIR ?? '/tmp/homeops-e28'},
            globalSetup: [tmpGuard, './test/setup/engine28-env.ts'],
            fileParallelism: false,
            testTimeout: 120_000,
            hookTimeout: 1_500_000,
            // scripts/test.sh runs it (and multinode) in a vitest of its own, beside the main one.
            sequence: {groupOrder: 1},
          },
        },
      ]
    : []),
  ...(process.env.HOMEOPS_TEST_NODES === '3'
    ? [
        {
          // A three-node Swarm (scripts/testenv.sh start --nodes 3): test/support/cluster.ts.
          extends: true as const,
          test: {
            name: 'multinode',
            include: ['test/multinode/**/*.test.ts'],
            environment: 'node',
            env: {HOMEOPS_TESTENV_DIR: process.env.HOMEOPS_TESTENV_NODES_DIR ?? '/tmp/homeops-mn'},
            globalSetup: [tmpGuard, './test/setup/multinode-env.ts'],
            fileParallelism: false,
            testTimeout: 180_000,
            hookTimeout: 240_000,
            sequence: {groupOrder: 4},
          },
        },
      ]
    : []),
]

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
      ...optIn,
    ],
  },
})
