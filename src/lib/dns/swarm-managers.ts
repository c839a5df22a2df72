import type {DockerConnection} from '../docker/client.js'
import {OperationError, errorMessage} from '../errors.js'

/**
 * `dns.swarmManagers`: a server on a worker node cannot list the cluster's services, so it reads them
 * from the first of these addresses that answers as a manager (the others are failovers, tried in order
 * again after a lost connection).
 */
export async function connectSwarmManager(addresses: string[], timeoutMs: number): Promise<DockerConnection> {
  const {connectDocker} = await import('../docker/client.js')
  const problems: string[] = []
  for (const address of addresses) {
    try {
      const connection = await connectDocker(address, {timeoutMs})
      const info = (await connection.docker.info()) as {Swarm?: {ControlAvailable?: boolean}}
      if (info.Swarm?.ControlAvailable) return connection
      problems.push(`${connection.address} is not a Swarm manager`)
    } catch (error) {
      problems.push(errorMessage(error))
    }
  }
  throw new OperationError(`no Swarm manager answered: ${problems.join('; ')}`, {
    hint: 'dns.swarmManagers lists the Docker addresses of the managers (docker node ls on a manager shows them)',
  })
}
