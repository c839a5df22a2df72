import {describe, expect, it} from 'vitest'

import {Logger} from '../../../src/lib/log/logger.js'
import {clearSecrets, registerSecret} from '../../../src/lib/log/redact.js'
import {MetricsRegistry} from '../../../src/lib/metrics/registry.js'
import {parseDockerHost} from '../../../src/lib/docker/client.js'
import {detectTerminal, renderTable} from '../../../src/lib/ui/terminal.js'

const now = () => new Date('2026-01-02T03:04:05.000Z')

function capture(format: 'text' | 'json' | 'pretty', level: 'debug' | 'info' = 'info') {
  const lines: string[] = []
  return {lines, logger: new Logger({format, level, now, sink: {write: (l: string) => lines.push(l)}})}
}

describe('logger', () => {
  it('writes `time level msg key=value` lines, quoting values with spaces', () => {
    const {lines, logger} = capture('text')
    logger.child({stack: 'web'}).info('deployed stack', {hash: 'abc', error: 'a b', skipped: undefined})
    expect(lines).toEqual(['2026-01-02T03:04:05.000Z info deployed stack stack=web hash=abc error="a b"\n'])
  })

  it('keeps one event on one line', () => {
    const {lines, logger} = capture('text')
    logger.warn('first\nsecond')
    expect(lines[0]!.trimEnd().split('\n')).toHaveLength(1)
  })

  it('writes JSON lines with --log-format json', () => {
    const {lines, logger} = capture('json')
    logger.error('failed', {code: 3})
    expect(JSON.parse(lines[0]!)).toEqual({time: '2026-01-02T03:04:05.000Z', level: 'error', msg: 'failed', code: 3})
  })

  it('drops lines below the level', () => {
    const {lines, logger} = capture('text')
    logger.debug('hidden')
    expect(lines).toEqual([])
  })

  it('never prints a registered secret', () => {
    registerSecret('p4ssw0rd!')
    try {
      const {lines, logger} = capture('text')
      logger.info('calling https://user:p4ssw0rd!@host/x', {password: 'p4ssw0rd!'})
      expect(lines.join('')).not.toContain('p4ssw0rd!')
    } finally {
      clearSecrets()
    }
  })
})

describe('terminal', () => {
  it('is not interactive off a TTY, under --json, on CI or with TERM=dumb', () => {
    expect(detectTerminal({stderrIsTTY: true, stdoutIsTTY: true, env: {}}).interactive).toBe(true)
    expect(detectTerminal({stderrIsTTY: false, stdoutIsTTY: false, env: {}}).interactive).toBe(false)
    expect(detectTerminal({json: true, stderrIsTTY: true, stdoutIsTTY: true, env: {}}).interactive).toBe(false)
    expect(detectTerminal({stderrIsTTY: true, env: {CI: 'true'}}).interactive).toBe(false)
    expect(detectTerminal({stderrIsTTY: true, stdoutIsTTY: true, env: {TERM: 'dumb'}}).color).toBe(false)
    expect(detectTerminal({stdoutIsTTY: true, env: {NO_COLOR: '1'}}).color).toBe(false)
  })

  it('aligns tables and adds no colour off a TTY', () => {
    const term = detectTerminal({stdoutIsTTY: false, stderrIsTTY: false, env: {}})
    const text = renderTable(
      term,
      [
        {header: 'name', value: (r: {n: string; s: string}) => r.n},
        {header: 'status', value: (r) => r.s, tone: () => 'ok'},
      ],
      [
        {n: 'web', s: 'deployed'},
        {n: 'database', s: 'failed'},
      ],
    )
    expect(text).toBe('NAME      STATUS\nweb       deployed\ndatabase  failed')
  })
})

describe('metrics', () => {
  it('renders counters, gauges and histograms in Prometheus text format', () => {
    const m = new MetricsRegistry()
    m.counter('homeops_x_total', 'x things').inc({kind: 'a"b'})
    m.gauge('homeops_g', 'g').set(2.5)
    const h = m.histogram('homeops_h_seconds', 'h', [0.01, 0.1])
    h.observe(0.005)
    h.observe(0.05)
    m.collectedGauge('homeops_c', 'c', () => [{labels: {n: '1'}, value: 7}])
    expect(m.render()).toBe(
      [
        '# HELP homeops_x_total x things',
        '# TYPE homeops_x_total counter',
        'homeops_x_total{kind="a\\"b"} 1',
        '# HELP homeops_g g',
        '# TYPE homeops_g gauge',
        'homeops_g 2.5',
        '# HELP homeops_h_seconds h',
        '# TYPE homeops_h_seconds histogram',
        'homeops_h_seconds_bucket{le="0.01"} 1',
        'homeops_h_seconds_bucket{le="0.1"} 2',
        'homeops_h_seconds_bucket{le="+Inf"} 2',
        'homeops_h_seconds_sum 0.055',
        'homeops_h_seconds_count 2',
        '# HELP homeops_c c',
        '# TYPE homeops_c gauge',
        'homeops_c{n="1"} 7',
        '',
      ].join('\n'),
    )
  })
})

describe('docker host', () => {
  it('parses unix and tcp addresses and refuses others', () => {
    expect(parseDockerHost('unix:///run/docker.sock')).toEqual({kind: 'unix', socketPath: '/run/docker.sock'})
    expect(parseDockerHost('tcp://10.0.0.2:2375')).toEqual({kind: 'tcp', host: '10.0.0.2', port: 2375, tls: false})
    expect(parseDockerHost('tcp://[::1]')).toEqual({kind: 'tcp', host: '::1', port: 2375, tls: false})
    expect(() => parseDockerHost('ssh://me@host')).toThrow(/is not a Docker address/)
  })
})
