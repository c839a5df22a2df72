#!/usr/bin/env node
// Builds the native UDP answerer of `dns serve` (native/udp_answerer.c) with node-gyp, as part of
// `npm run build`. Without a compiler the build warns and succeeds: the DNS server then answers on its
// full path, dns2 in JavaScript (slower, same answers). HOMEOPS_REQUIRE_NATIVE=1 (scripts/test.sh) makes a
// failed build an error, so tests and benchmarks never measure the fallback by accident.
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const required = process.env.HOMEOPS_REQUIRE_NATIVE === '1'

function giveUp(reason) {
  if (required) {
    console.error(`build-native: ${reason} (HOMEOPS_REQUIRE_NATIVE=1)`)
    process.exit(1)
  }
  console.error(`build-native: warning: ${reason}; dns serve will answer everything on its full path (JavaScript)`)
  process.exit(0)
}

if (process.platform !== 'linux') giveUp(`the native answerer is Linux-only (this is ${process.platform})`)

// node-gyp: the one npm runs scripts with, else the copy bundled with npm, else PATH.
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath &&
    join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter(Boolean)
const gyp = candidates.find((p) => existsSync(p))
const command = gyp ? [process.execPath, gyp] : ['node-gyp']
const args = ['rebuild', '--directory', join(root, 'native')]
// Build against the installed headers (Debian's nodejs-dev) rather than downloading them.
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr')

const result = spawnSync(command[0], [...command.slice(1), ...args], {
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
})
if (result.error || result.status !== 0) {
  process.stderr.write(result.stdout ?? '')
  process.stderr.write(result.stderr ?? '')
  giveUp(`node-gyp failed (${result.error?.message ?? `exit ${result.status}`})`)
}
const addon = join(root, 'native', 'build', 'Release', 'homeops_dns.node')
if (!existsSync(addon)) giveUp(`node-gyp succeeded but ${addon} is missing`)
console.log(`build-native: ${addon}`)
