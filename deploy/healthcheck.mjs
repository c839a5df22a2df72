// Container health check without curl: GET /health on the serve port; exit 0 only on 200.
// The address comes from HOMEOPS_HEALTHCHECK_URL, else HOMEOPS_SERVE_LISTEN (0.0.0.0/:: mean loopback).
const listen = process.env.HOMEOPS_SERVE_LISTEN || '127.0.0.1:8080'
const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim()) || /^()()(\d+)$/.exec(listen.trim())
let host = (match && (match[1] || match[2])) || '127.0.0.1'
if (host === '0.0.0.0' || host === '') host = '127.0.0.1'
if (host === '::') host = '::1'
const port = match ? match[3] : '8080'
const url = process.env.HOMEOPS_HEALTHCHECK_URL || `http://${host.includes(':') ? `[${host}]` : host}:${port}/health`

try {
  const response = await fetch(url, {signal: AbortSignal.timeout(4000)})
  const body = await response.json().catch(() => ({}))
  if (response.status === 200) process.exit(0)
  const down = Object.entries(body.modes || {})
    .filter(([, m]) => !m.up)
    .map(([name, m]) => `${name}: ${m.detail || m.state}`)
  process.stderr.write(`unhealthy (${response.status}): ${down.join('; ') || 'see ' + url}\n`)
  process.exit(1)
} catch (error) {
  process.stderr.write(`${url}: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
}
