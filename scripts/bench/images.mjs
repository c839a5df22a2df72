#!/usr/bin/env node
// Benchmark of a full image check (issue 5): 100 workloads over 20 repositories on a real local OCI
// registry (Debian's docker-registry, started here on 127.0.0.1 with its own storage; the 20
// repositories × 5 tags are pushed through the registry API by this script).
//
// Measures, for the shared registry client (one client per run, as `images check` uses it):
//   - registry requests by kind; targets: one manifest HEAD per unique image:tag, one tag list per
//     repository, no manifest GET (the digest comes from the HEAD's Docker-Content-Digest);
//   - wall time of the check (median of --rounds), against a naive reference measured in the same run:
//     one fresh client per workload (no sharing), i.e. what a watcher without a per-run cache does.
// Then, through a loopback proxy in front of the same registry that adds 100 ms to every request and
// demands Bearer tokens from its own token service (as Docker Hub, GHCR and Harbor do):
//   (a) wall time of a full check against a reference client that checks every workload at once with no
//       limit and no sharing (as What's Up Docker does: per request 401 → token → retry); goal ≤ 1.0×;
//   (b) requests per run counted at the proxy: goal one token per scope (repository), no needless 401
//       (one per registry to learn its scheme).
// Writes test-results/bench-images.json; exits 1 when a request target is missed.
//
//   node scripts/bench/images.mjs [--rounds N]     (needs `npm run build` and /usr/bin/docker-registry)
import {spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer, request as httpRequest} from 'node:http'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {gzipSync} from 'node:zlib'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const roundsFlag = process.argv.indexOf('--rounds')
const ROUNDS = roundsFlag > 0 ? Math.max(1, Number(process.argv[roundsFlag + 1])) : 5
const REPOS = 20
const TAGS = ['1.0.0', '1.0.1', '1.1.0', '2.0.0', 'latest']
// Five workloads per repository: two share an image:tag (deduplicated), one runs `latest` (digest only).
const WORKLOAD_TAGS = ['1.0.0', '1.0.0', '1.0.1', '1.1.0', 'latest']
const REGISTRY_BIN = '/usr/bin/docker-registry'

function fail(message) {
  console.error(`bench images: ${message}`)
  process.exit(2)
}
if (!existsSync(join(repoRoot, 'dist', 'lib', 'images', 'checker.js')))
  fail('dist/ is missing: run `npm run build` first')
if (!existsSync(REGISTRY_BIN)) fail(`${REGISTRY_BIN} is missing (apt-get install docker-registry)`)

const {RegistryClient} = await import(join(repoRoot, 'dist/lib/registry/client.js'))
const {checkWorkloads} = await import(join(repoRoot, 'dist/lib/images/checker.js'))
const {Logger} = await import(join(repoRoot, 'dist/lib/log/logger.js'))
const logger = new Logger({level: 'error', sink: {write: () => true}})

// ---- a private registry on loopback ----
const port = await new Promise((resolve) => {
  const s = createServer()
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => resolve(p))
  })
})
const host = `127.0.0.1:${port}`
const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-images-'))
mkdirSync(join(dir, 'storage'))
writeFileSync(
  join(dir, 'config.yml'),
  `version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: ${join(dir, 'storage')}}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: "${host}", secret: ${randomBytes(12).toString('hex')}}
`,
)
const registry = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], {stdio: ['ignore', 'ignore', 'pipe']})
let registryErr = ''
registry.stderr.on('data', (d) => (registryErr += d))
const stop = async () => {
  if (registry.exitCode === null) {
    registry.kill('SIGTERM')
    await new Promise((r) => registry.once('exit', r))
  }
  rmSync(dir, {recursive: true, force: true})
}
process.on('SIGINT', () => void stop().then(() => process.exit(130)))

try {
  let up = false
  for (let i = 0; i < 100 && !up; i++) {
    up = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (!up) await new Promise((r) => setTimeout(r, 100))
  }
  if (!up) throw new Error(`docker-registry did not start: ${registryErr}`)

  // ---- push 20 repositories × 5 tags through the distribution API ----
  const sha = (buf) => `sha256:${createHash('sha256').update(buf).digest('hex')}`
  async function pushBlob(repo, data) {
    const digest = sha(data)
    const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, {method: 'POST'})
    if (start.status !== 202) throw new Error(`blob upload start for ${repo}: HTTP ${start.status}`)
    const location = new URL(start.headers.get('location'), `http://${host}`)
    location.searchParams.set('digest', digest)
    const put = await fetch(location, {
      method: 'PUT',
      body: data,
      headers: {'content-type': 'application/octet-stream'},
    })
    if (put.status !== 201) throw new Error(`blob upload for ${repo}: HTTP ${put.status}`)
    return {digest, size: data.length}
  }
  const layerData = gzipSync(randomBytes(2048))
  const expected = {} // repo:tag → digest
  const pushStarted = performance.now()
  for (let r = 0; r < REPOS; r++) {
    const repo = `bench/app${r}`
    const layer = await pushBlob(repo, layerData)
    for (const tag of TAGS) {
      const config = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: {Labels: {'org.opencontainers.image.version': tag === 'latest' ? '2.0.0' : tag}},
          rootfs: {type: 'layers', diff_ids: [sha(layerData)]},
        }),
      )
      const cfg = await pushBlob(repo, config)
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg},
          layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer}],
        }),
      )
      const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
        method: 'PUT',
        body: manifest,
        headers: {'content-type': 'application/vnd.oci.image.manifest.v1+json'},
      })
      if (put.status !== 201) throw new Error(`manifest ${repo}:${tag}: HTTP ${put.status} ${await put.text()}`)
      expected[`${repo}:${tag}`] = sha(manifest)
    }
  }
  const pushMs = performance.now() - pushStarted

  // ---- 100 workloads ----
  const workloads = []
  for (let r = 0; r < REPOS; r++) {
    WORKLOAD_TAGS.forEach((tag, i) => {
      const repo = `bench/app${r}`
      // Every other workload runs an older build of its tag, so both outcomes are exercised.
      const local = i % 2 === 0 ? expected[`${repo}:${tag}`] : sha(Buffer.from(`old ${repo}:${tag}`))
      workloads.push({
        name: `bench-${r}-${i}`,
        id: `id-${r}-${i}`,
        kind: i === 4 ? 'service' : 'container',
        image: `${host}/${repo}:${tag}`,
        repoDigests: [`${host}/${repo}@${local}`],
        labels: {'homeops.images.strategy': ['ALL', 'MINOR', 'PATCH'][r % 3]},
      })
    })
  }
  const uniqueImageTags = new Set(workloads.map((w) => w.image)).size
  const repositories = new Set(workloads.map((w) => w.image.replace(/:[^:/]+$/, ''))).size
  const versionRepositories = new Set(
    workloads.filter((w) => !w.image.endsWith(':latest')).map((w) => w.image.replace(/:[^:/]+$/, '')),
  ).size

  async function shared() {
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const started = performance.now()
    const report = await checkWorkloads(workloads, {client, logger})
    const ms = performance.now() - started
    await client.close()
    return {ms, report, stats: client.stats}
  }
  async function naive() {
    const started = performance.now()
    const stats = {requests: 0, byKind: {}}
    await Promise.all(
      Array.from({length: 8}, async (_, worker) => {
        for (let i = worker; i < workloads.length; i += 8) {
          const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
          await checkWorkloads([workloads[i]], {client, logger})
          await client.close()
          stats.requests += client.stats.requests
          for (const [k, v] of Object.entries(client.stats.byKind)) stats.byKind[k] = (stats.byKind[k] ?? 0) + v
        }
      }),
    )
    return {ms: performance.now() - started, stats}
  }

  // Warm-up (JIT, registry caches), then interleaved rounds.
  await shared()
  await naive()
  const sharedRuns = []
  const naiveRuns = []
  for (let i = 0; i < ROUNDS; i++) {
    sharedRuns.push(await shared())
    naiveRuns.push(await naive())
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const last = sharedRuns.at(-1)
  const byKind = last.stats.byKind
  const summary = last.report.summary
  const wrong = last.report.results.filter((r) => {
    const w = workloads.find((x) => x.name === r.workload)
    const upToDate = w.repoDigests[0].endsWith(expected[`${w.image.slice(host.length + 1)}`])
    return r.digestStatus !== (upToDate ? 'up_to_date' : 'update_available')
  })

  // ---- through a slow, token-protected proxy ----
  const proxy = await latencyTokenProxy(host, 100)
  const proxied = workloads.map((w) => ({
    ...w,
    image: w.image.replace(host, proxy.host),
    repoDigests: w.repoDigests.map((d) => d.replace(host, proxy.host)),
  }))
  async function sharedSlow() {
    proxy.reset()
    const client = new RegistryClient({dockerConfigPath: '/nonexistent'})
    const started = performance.now()
    const report = await checkWorkloads(proxied, {client, logger})
    const ms = performance.now() - started
    await client.close()
    return {ms, report, counts: proxy.counts()}
  }
  async function referenceSlow() {
    proxy.reset()
    const started = performance.now()
    const results = await Promise.all(proxied.map((w) => referenceCheck(w)))
    const ms = performance.now() - started
    return {ms, results, counts: proxy.counts()}
  }
  await sharedSlow()
  await referenceSlow()
  const slowShared = []
  const slowReference = []
  for (let i = 0; i < ROUNDS; i++) {
    slowShared.push(await sharedSlow())
    slowReference.push(await referenceSlow())
  }
  await proxy.close()
  const slowSharedMs = median(slowShared.map((r) => r.ms))
  const slowReferenceMs = median(slowReference.map((r) => r.ms))
  const slowLast = slowShared.at(-1)
  const refLast = slowReference.at(-1)
  const refWrong = refLast.results.filter((r) => !r.ok).length

  const sharedMs = median(sharedRuns.map((r) => r.ms))
  const naiveMs = median(naiveRuns.map((r) => r.ms))
  const targets = [
    ['manifest HEAD per unique image:tag', byKind.manifest_head ?? 0, uniqueImageTags],
    ['tag lists (one per repository with version tags)', byKind.tags_list ?? 0, versionRepositories],
    ['manifest GETs (digest unchanged or changed: HEAD suffices)', byKind.manifest_get ?? 0, 0],
  ]
  console.log(
    `images check benchmark: ${workloads.length} workloads, ${repositories} repositories, ${uniqueImageTags} unique image:tags`,
  )
  console.log(
    `registry ${host} (docker-registry), ${REPOS * TAGS.length} tags pushed in ${(pushMs / 1000).toFixed(1)} s; ${ROUNDS} rounds`,
  )
  console.log('')
  console.log('requests per run          shared client   naive (client per workload)')
  for (const kind of ['manifest_head', 'manifest_get', 'tags_list', 'token', 'auth_challenge']) {
    console.log(
      `  ${kind.padEnd(22)}  ${String(byKind[kind] ?? 0).padStart(13)}   ${String(naiveRuns.at(-1).stats.byKind[kind] ?? 0).padStart(10)}`,
    )
  }
  console.log(
    `  ${'total'.padEnd(22)}  ${String(last.stats.requests).padStart(13)}   ${String(naiveRuns.at(-1).stats.requests).padStart(10)}`,
  )
  console.log(
    `  ${'per workload'.padEnd(22)}  ${(last.stats.requests / workloads.length).toFixed(2).padStart(13)}   ${(naiveRuns.at(-1).stats.requests / workloads.length).toFixed(2).padStart(10)}`,
  )
  console.log('')
  console.log(
    `wall time of the check (median)   shared ${sharedMs.toFixed(0)} ms   naive ${naiveMs.toFixed(0)} ms   ratio ${(sharedMs / naiveMs).toFixed(2)}`,
  )
  console.log(
    `results: ${summary.updates} with updates, ${summary.errors} errors, ${wrong.length} wrong digest statuses`,
  )
  console.log('')
  console.log('')
  console.log(`through a loopback proxy adding 100 ms per request, with Bearer token auth (${ROUNDS} rounds)`)
  console.log('requests per run (at the proxy)   homeops   reference (all at once, no limit, no sharing)')
  for (const kind of ['token', 'unauthorized', 'manifest_head', 'manifest_get', 'tags_list', 'total'])
    console.log(
      `  ${kind.padEnd(30)}  ${String(slowLast.counts[kind] ?? 0).padStart(7)}   ${String(refLast.counts[kind] ?? 0).padStart(9)}`,
    )
  console.log(
    `  ${'token scopes'.padEnd(30)}  ${String(slowLast.counts.scopes).padStart(7)}   ${String(refLast.counts.scopes).padStart(9)}`,
  )
  console.log(
    `wall time of the check (median)   homeops ${slowSharedMs.toFixed(0)} ms   reference ${slowReferenceMs.toFixed(0)} ms   ratio ${(slowSharedMs / slowReferenceMs).toFixed(2)} (goal ≤ 1.00)`,
  )
  console.log(`results: ${slowLast.report.summary.errors} errors (homeops), ${refWrong} failed checks (reference)`)
  console.log('')
  targets.push(
    ['token requests (one per scope)', slowLast.counts.token ?? 0, slowLast.counts.scopes],
    ['401 answers (one per registry, to learn its scheme)', slowLast.counts.unauthorized ?? 0, 1],
    ['errors through the slow proxy', slowLast.report.summary.errors, 0],
  )
  let ok = wrong.length === 0 && summary.errors === 0
  for (const [what, got, want] of targets) {
    const pass = got === want
    ok &&= pass
    console.log(`${pass ? 'ok  ' : 'MISS'} ${what}: ${got} (target ${want})`)
  }
  mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
  writeFileSync(
    join(repoRoot, 'test-results', 'bench-images.json'),
    JSON.stringify(
      {
        workloads: workloads.length,
        repositories,
        uniqueImageTags,
        rounds: ROUNDS,
        requests: last.stats,
        naiveRequests: naiveRuns.at(-1).stats,
        sharedMs,
        naiveMs,
        ratio: sharedMs / naiveMs,
        latency100ms: {
          homeopsMs: slowSharedMs,
          referenceMs: slowReferenceMs,
          ratio: slowSharedMs / slowReferenceMs,
          requests: slowLast.counts,
          referenceRequests: refLast.counts,
        },
        ok,
      },
      null,
      2,
    ) + '\n',
  )
  await stop()
  process.exit(ok ? 0 : 1)
} catch (error) {
  console.error(`bench images: ${error.stack ?? error}`)
  await stop()
  process.exit(2)
}

/**
 * A reverse proxy on loopback in front of the registry: every request waits `delayMs` before it is
 * forwarded, and /v2/ requests need a Bearer token for their repository from the proxy's own /token
 * service (scope `repository:<name>:pull`), which it strips before forwarding. Counts what it answered.
 */
async function latencyTokenProxy(upstream, delayMs) {
  let counts
  const reset = () => {
    counts = {token: 0, unauthorized: 0, manifest_head: 0, manifest_get: 0, tags_list: 0, total: 0, scopeSet: new Set()}
  }
  reset()
  const server = createHttpServer((req, res) => {
    counts.total++
    setTimeout(() => {
      const url = new URL(req.url, 'http://x')
      if (url.pathname === '/token') {
        counts.token++
        const scopes = url.searchParams.getAll('scope')
        for (const scope of scopes) counts.scopeSet.add(scope)
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({token: `tok ${scopes.join(' ')}`, expires_in: 300}))
        return
      }
      const repo = /^\/v2\/(.+)\/(?:manifests|tags)\//.exec(url.pathname)?.[1]
      const scope = `repository:${repo}:pull`
      if (repo && req.headers.authorization !== `Bearer tok ${scope}`) {
        counts.unauthorized++
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="bench",scope="${scope}"`,
          'content-type': 'application/json',
        })
        res.end('{"errors":[{"code":"UNAUTHORIZED"}]}')
        return
      }
      if (url.pathname.endsWith('/tags/list')) counts.tags_list++
      else if (req.method === 'HEAD') counts.manifest_head++
      else counts.manifest_get++
      const headers = {...req.headers, host: upstream}
      delete headers.authorization
      const [hostname, port] = upstream.split(':')
      const forward = httpRequest({hostname, port, method: req.method, path: req.url, headers}, (answer) => {
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res)
      })
      forward.on('error', () => res.writeHead(502).end())
      req.pipe(forward)
    }, delayMs)
  })
  server.keepAliveTimeout = 10_000
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return {
    host: `127.0.0.1:${server.address().port}`,
    reset,
    counts: () => ({...counts, scopes: counts.scopeSet.size, scopeSet: undefined}),
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(r))
    },
  }
}

/**
 * The reference watcher: per workload, at once, with no limit and nothing shared: the tag list (for a
 * version tag) and the manifest HEAD, each as 401 → token → retry, as What's Up Docker does.
 */
async function referenceCheck(workload) {
  const match = /^([^/]+)\/(.+):([^:]+)$/.exec(workload.image)
  const [, registry, repo, tag] = match
  async function authed(path, method) {
    const url = `http://${registry}${path}`
    const headers = {accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json'}
    let res = await fetch(url, {method, headers})
    if (res.status === 401) {
      await res.arrayBuffer()
      const challenge = res.headers.get('www-authenticate')
      const realm = /realm="([^"]+)"/.exec(challenge)[1]
      const service = /service="([^"]+)"/.exec(challenge)[1]
      const scope = /scope="([^"]+)"/.exec(challenge)[1]
      const token = await fetch(
        `${realm}?service=${encodeURIComponent(service)}&scope=${encodeURIComponent(scope)}`,
      ).then((r) => r.json())
      res = await fetch(url, {method, headers: {...headers, authorization: `Bearer ${token.token}`}})
    }
    return res
  }
  const versioned = tag !== 'latest'
  const [tags, head] = await Promise.all([
    versioned ? authed(`/v2/${repo}/tags/list`, 'GET').then((r) => r.json()) : undefined,
    authed(`/v2/${repo}/manifests/${tag}`, 'HEAD'),
  ])
  return {ok: head.status === 200 && (!versioned || Array.isArray(tags?.tags))}
}
