#!/usr/bin/env node
'use strict'
/* global require, __dirname -- CommonJS on purpose (see below) */
/* eslint-disable @typescript-eslint/no-require-imports */
// The installed command (install.sh links $PREFIX/bin/homeops here; package.json `bin`). CommonJS so that the
// `ddns update` a timer runs every few minutes never boots Node's ES module loader: the lean bundle is CommonJS
// too, and this path costs ~5 ms less CPU per run than the same bundle behind an ES module entry
// (scripts/bench/ddns.mjs). Everything else, and whatever the lean entry declines, goes to bin/run.js (oclif).
const args = process.argv.slice(2)
const lean = args[0] === 'ddns' && args[1] === 'update' && process.env.HOMEOPS_LEAN !== '0' ? leanEntry() : undefined
if (lean) {
  const {pathToFileURL} = require('node:url')
  const packageJson = pathToFileURL(require('node:path').join(__dirname, '..', 'package.json'))
  lean.runLeanDdnsUpdate(args.slice(2), packageJson).then((code) => {
    if (code === undefined) return import('./run.js')
    process.exitCode = code
  })
} else {
  import('./run.js')
}

/** The bundle (scripts/build-lean.mjs), or undefined when only tsc ran (bin/run.js then uses the plain module). */
function leanEntry() {
  try {
    return require('../dist/lean/ddns-update.cjs')
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes('ddns-update.cjs'))
      return undefined
    throw error
  }
}
