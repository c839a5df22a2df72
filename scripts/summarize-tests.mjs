#!/usr/bin/env node
// Prints one line, `N passed, N failed, N skipped`, from vitest's JSON reports (default
// test-results/vitest.json; several are summed: scripts/test.sh runs one vitest beside another). Exit 1 when
// a test failed, a test file failed to run, or a report is missing.
import {readFileSync} from 'node:fs'

const files = process.argv.length > 2 ? process.argv.slice(2) : ['test-results/vitest.json']

let passed = 0
let skipped = 0
let failed = 0
let unsuccessful = false
for (const file of files) {
  let report
  try {
    report = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    console.error(
      `summarize-tests: no usable report at ${file} (${error.message}); vitest did not finish, see its output`,
    )
    failed++
    continue
  }
  passed += report.numPassedTests ?? 0
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  // A file that fails as a whole (import error, failing beforeAll, global setup) may report no failed test: count it.
  const brokenFiles = (report.testResults ?? []).filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
  )
  for (const f of brokenFiles)
    console.error(`summarize-tests: ${f.name} failed to run: ${(f.message ?? '').split('\n')[0]}`)
  failed += (report.numFailedTests ?? 0) + brokenFiles.length
  if (report.success === false) unsuccessful = true
}

console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || unsuccessful ? 1 : 0)
