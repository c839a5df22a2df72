import {describe, expect, it} from 'vitest'

import {permanentTaskFailure} from '../../../src/lib/swarm/task-failure.js'

// Task errors as Docker 20.10–28 report them in `docker service ps --no-trunc` / GET /tasks.
const permanent: [string, string, string, RegExp][] = [
  [
    'rejected',
    'invalid mount config for type "bind": bind source path does not exist: /srv/nfs/missing',
    'bind mount',
    /bind mount points to a path that does not exist.*\/srv\/nfs\/missing/,
  ],
  ['rejected', 'No such image: 127.0.0.1:5000/hotest/nope:9.9.9', 'image', /image does not exist.*nope:9\.9\.9/],
  [
    'rejected',
    'Error response from daemon: manifest for registry.example/app:2 not found: manifest unknown: manifest unknown',
    'manifest',
    /image does not exist/,
  ],
  [
    'rejected',
    "Error response from daemon: pull access denied for private/app, repository does not exist or may require 'docker login'",
    'pull denied',
    /cannot be pulled/,
  ],
  ['rejected', 'invalid reference format', 'reference', /image reference is not valid/],
  [
    'failed',
    'Error response from daemon: invalid reference format: repository name must be lowercase',
    'uppercase reference',
    /image reference is not valid/,
  ],
  ['rejected', 'secret hotest_db not found', 'secret', /secret the service uses does not exist/],
  ['rejected', 'network hotest_backend not found', 'network', /network the service uses does not exist/],
  [
    'failed',
    'starting container failed: OCI runtime create failed: container_linux.go:380: starting container process caused: exec: "nope": executable file not found in $PATH: unknown',
    'command',
    /command cannot be started/,
  ],
  [
    'pending',
    'no suitable node (scheduling constraints not satisfied on 1 node)',
    'constraint, one node',
    /no node satisfies the placement constraints.*1 node/,
  ],
  [
    'pending',
    'no suitable node (scheduling constraints not satisfied on 3 nodes)',
    'constraint, three nodes',
    /placement constraints/,
  ],
]

const transient: [string, string | undefined][] = [
  ['preparing', undefined],
  ['starting', undefined],
  ['assigned', undefined],
  ['accepted', undefined],
  ['pending', undefined],
  ['new', undefined],
  ['running', undefined],
  ['preparing', 'Pulling image'],
  // A node that is down or draining may come back; resources may free up.
  ['pending', 'no suitable node (1 node not available for new tasks)'],
  ['pending', 'no suitable node (scheduling constraints not satisfied on 2 nodes; 1 node not available for new tasks)'],
  ['pending', 'no suitable node (insufficient resources on 1 node)'],
  // A container that ran and exited: its restart policy decides, the convergence wait reports it.
  ['failed', 'task: non-zero exit (1)'],
  ['rejected', 'Error response from daemon: Get "https://registry/v2/": net/http: TLS handshake timeout'],
  // The error text of a rejected task seen while the task is shut down is not a new failure.
  ['shutdown', 'No such image: app:1'],
]

describe('permanentTaskFailure', () => {
  it.each(permanent)('%s "%s" (%s) fails fast with the reason', (state, err, _label, reason) => {
    expect(permanentTaskFailure({state, err})).toMatch(reason)
    // Docker's own words are kept for searching.
    expect(permanentTaskFailure({state, err})).toContain(err)
  })

  it.each(transient)('%s "%s" keeps waiting', (state, err) => {
    expect(permanentTaskFailure({state, err})).toBeUndefined()
  })

  it('reads Status.Message when Err is empty', () => {
    expect(permanentTaskFailure({state: 'rejected', err: '', message: 'No such image: x:1'})).toMatch(/image/)
  })
})
