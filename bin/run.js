#!/usr/bin/env node
// oclif loads semver at every start-up (~30 ms) only to check its own `engines` (Node ≥ 18); homeops
// needs Node ≥ 20, which install.sh checks. Set before @oclif/core is imported, hence the dynamic import.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const {execute} = await import('@oclif/core')

await execute({dir: import.meta.url})
