#!/usr/bin/env node
// `homeops ddns update` runs from a timer every few minutes: it skips oclif's machinery for a lean entry
// with the same flags, output and exit codes (src/cli/lean-ddns-update.ts), which hands anything it does not
// handle itself (--help, unknown flags) back to oclif. HOMEOPS_LEAN=0 always uses oclif. The installed command is
// bin/homeops.cjs, which runs the same bundle without the ES module loader and comes here for everything else.
import {createRequire} from 'node:module'

const args = process.argv.slice(2)
if (args[0] === 'ddns' && args[1] === 'update' && process.env.HOMEOPS_LEAN !== '0') {
  // The bundle (scripts/build-lean.mjs, CommonJS for bin/homeops.cjs); the plain module when only tsc ran.
  const {runLeanDdnsUpdate} = await leanBundle().catch((error) => {
    if (error?.code !== 'MODULE_NOT_FOUND' || !String(error.message).includes('ddns-update.cjs')) throw error
    return import('../dist/cli/lean-ddns-update.js')
  })
  const code = await runLeanDdnsUpdate(args.slice(2), new URL('../package.json', import.meta.url))
  if (code !== undefined) {
    process.exitCode = code
  } else {
    await runOclif()
  }
} else {
  await runOclif()
}

async function runOclif() {
  // oclif loads semver at every start-up (~30 ms) only to check its own `engines` (Node ≥ 18); homeops
  // needs Node ≥ 20, which install.sh checks. Set before @oclif/core is imported, hence the dynamic import.
  process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}

async function leanBundle() {
  return createRequire(import.meta.url)('../dist/lean/ddns-update.cjs')
}
