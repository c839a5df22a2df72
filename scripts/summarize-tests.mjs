#!/usr/bin/env node
// Prints one line, `N passed, N failed, N skipped`, from vitest's JSON report (default
// test-results/vitest.json). Exit 1 when a test failed, a test file failed to run, or the report is missing.
import {readFileSync} from 'node:fs'

const file = process.argv[2] ?? 'test-results/vitest.json'

let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (error) {
  console.error(
    `summarize-tests: no usable report at ${file} (${error.message}); vitest did not finish, see its output`,
  )
  console.log('0 passed, 1 failed, 0 skipped')
  process.exit(1)
}

const passed = report.numPassedTests ?? 0
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
// A file that fails as a whole (import error, failing beforeAll, global setup) may report no failed test: count it.
const brokenFiles = (report.testResults ?? []).filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
)
for (const f of brokenFiles)
  console.error(`summarize-tests: ${f.name} failed to run: ${(f.message ?? '').split('\n')[0]}`)
const failed = (report.numFailedTests ?? 0) + brokenFiles.length

console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || report.success === false ? 1 : 0)
