import {createHmac} from 'node:crypto'

import type {Docker} from '../docker/client.js'
import {STACK_LABEL, stackServices} from './docker.js'
import {type DriftEntry, type ServiceSpec, compareStack, fingerprint, parseFingerprint} from './drift.js'
import type {SwarmStore} from './store.js'

/**
 * The stored side of drift detection (drift.ts is the comparison): fingerprints taken right after a
 * deploy, and the drift of a stack against the services the Swarm lists now.
 */
export function keyedDigest(hmacKey: string): (value: string) => string {
  return (value) => createHmac('sha256', hmacKey).update(value).digest('hex').slice(0, 16)
}

/** Running services of a stack by full name (the Engine's `/services` entries carry their whole spec). */
export function servicesByStack(services: readonly ServiceSpec[]): Map<string, ServiceSpec[]> {
  const out = new Map<string, ServiceSpec[]>()
  for (const service of services) {
    const stack = service.Spec?.Labels?.[STACK_LABEL]
    if (!stack || !service.Spec?.Name) continue
    const list = out.get(stack) ?? []
    list.push(service)
    out.set(stack, list)
  }
  return out
}

/** Records what the stack's services run now as what homeops deployed. */
export function recordFingerprints(
  store: SwarmStore,
  stack: string,
  composeFile: string | null,
  running: readonly ServiceSpec[],
  hmacKey: string,
): void {
  const digest = keyedDigest(hmacKey)
  store.recordServiceFingerprints(
    stack,
    composeFile,
    running.map((s) => {
      const name = s.Spec!.Name!
      return {
        service: name,
        composeService: name.startsWith(`${stack}_`) ? name.slice(stack.length + 1) : name,
        fingerprint: JSON.stringify(fingerprint(s, digest)),
      }
    }),
  )
}

/** After a deploy converged: asks the Swarm for the stack's services and records them. */
export async function snapshotStack(
  store: SwarmStore,
  engine: Docker,
  stack: string,
  composeFile: string | null,
  hmacKey: string,
): Promise<void> {
  const running = (await stackServices(engine, stack)) as ServiceSpec[]
  recordFingerprints(
    store,
    stack,
    composeFile,
    running.filter((s) => s.Spec?.Labels?.[STACK_LABEL] === stack),
    hmacKey,
  )
}

/** The stack's drift; undefined when nothing was recorded for it (deployed by an older homeops). */
export function stackDrift(
  store: SwarmStore,
  stack: string,
  running: readonly ServiceSpec[],
  hmacKey: string,
): DriftEntry[] | undefined {
  const stored = store.serviceFingerprints(stack)
  if (stored.size === 0) return undefined
  const deployed = new Map<string, ReturnType<typeof fingerprint>>()
  for (const [name, text] of stored) {
    const parsed = parseFingerprint(text)
    if (!parsed) return undefined
    deployed.set(name, parsed)
  }
  const digest = keyedDigest(hmacKey)
  return compareStack(deployed, new Map(running.map((s) => [s.Spec!.Name!, fingerprint(s, digest)])))
}
