import {defineArea} from '../area.js'
import {swarmSchema} from './config.js'
import {swarmMigrations} from './migrations.js'

export const swarmArea = defineArea({
  name: 'swarm',
  title: 'Swarm stacks',
  schema: swarmSchema,
  migrations: swarmMigrations,
  mode: {module: 'swarm/mode.js', factory: 'createSwarmMode', page: 4},
  doctor: {
    // `swarm` (a manager node) comes with the Docker check.
    needs: ['docker', 'swarm', 'docker-cli', 'git', 'swarm-repos', 'serve-port'],
    module: 'swarm/doctor.js',
  },
})
