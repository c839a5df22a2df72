import {execFileSync} from 'node:child_process'

import {type TestEnv, testEnv} from './testenv.js'

/** A node of the multi-node Swarm (scripts/testenv.sh start --nodes 3). */
export interface ClusterNode {
  /** the node's hostname, as the Swarm names it: homeops-mn-N */
  name: string
  role: 'manager' | 'worker'
  /** its address on the private bridge (10.231.0.0/24, inside the namespaces only) */
  address: string
  netns: string
  dockerHost: string
  dockerSocket: string
  dockerPid: number
}

/** `/tmp/homeops-mn/env.json`: a TestEnv whose dockerHost is the manager, plus every node and the shared folder. */
export interface ClusterEnv extends TestEnv {
  nodes: ClusterNode[]
  /** the "NFS" of DESIGN §5.6: one folder at the same path on every node */
  sharedDir: string
}

/** The cluster's env (the multinode project points HOMEOPS_TESTENV_DIR at it); throws when it is not one. */
export function clusterEnv(): ClusterEnv {
  const env = testEnv() as Partial<ClusterEnv> & TestEnv
  if (!Array.isArray(env.nodes) || env.nodes.length < 2 || !env.sharedDir) {
    throw new Error(
      `${env.dir}/env.json is not a multi-node environment; run the multinode project (HOMEOPS_TEST_NODES=3) or scripts/testenv.sh start --nodes 3`,
    )
  }
  return env as ClusterEnv
}

export function manager(): ClusterNode {
  return clusterEnv().nodes.find((n) => n.role === 'manager')!
}

export function workers(): ClusterNode[] {
  return clusterEnv().nodes.filter((n) => n.role === 'worker')
}

/** `docker -H <node> …` with the environment's DOCKER_CONFIG. */
export function nodeCli(node: ClusterNode, args: string[]): string {
  return execFileSync('docker', ['-H', node.dockerHost, ...args], {
    env: {...process.env, DOCKER_CONFIG: clusterEnv().dockerConfigDir},
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  })
}

/** The ids of the containers of a stack running on one node. */
export function stackContainersOn(node: ClusterNode, stack: string): string[] {
  return nodeCli(node, ['ps', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`])
    .split('\n')
    .filter(Boolean)
}
