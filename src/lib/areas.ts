import {ddnsArea} from './ddns/area.js'
import {dnsArea} from './dns/area.js'
import {imagesArea} from './images/area.js'
import {monitorArea} from './monitor/area.js'
import {swarmArea} from './swarm/area.js'

/**
 * Every command group, in the order of the config file, `--mode` and `homeops doctor`. A new group
 * writes its `src/lib/<group>/area.ts` (see `area.ts`) and adds it here: the config schema, environment
 * variables and their docs, migrations, the serve mode, doctor and `config validate` follow from this list.
 * The only module outside the groups that imports them; core modules import this list, never a group.
 */
export const AREAS = [ddnsArea, imagesArea, monitorArea, swarmArea, dnsArea] as const

export type AreaName = (typeof AREAS)[number]['name']
