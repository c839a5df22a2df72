import {fileURLToPath} from 'node:url'

import {AREAS} from '../areas.js'
import type {Mode} from '../config/root-schema.js'
import {errorMessage} from '../errors.js'
import type {ServiceMode} from './mode.js'

/**
 * Which module and factory provide each mode (each area's `mode`), in the
 * order of the page. Data, not code: a mode whose module is missing or broken
 * fails alone (reported `unavailable` in `/health`), the others still start.
 */
export const MODE_TABLE = Object.fromEntries(
  [...AREAS]
    .sort((a, b) => a.mode.page - b.mode.page)
    .map((area) => [area.name, {module: `../${area.mode.module}`, factory: area.mode.factory, title: area.title}]),
) as Record<Mode, ModeModule & {title: string}>

export type ModeLoader = (name: Mode) => Promise<ServiceMode>

export interface ModeModule {
  /** Import specifier, relative to this file (`../dns/mode.js`) or a file: URL. */
  module: string
  factory: string
}

/**
 * A loader over a table of modules: imports the mode's module and calls its
 * factory; throws a readable error when the module is missing or broken, or
 * does not export the factory.
 */
export function modeLoader(table: Record<Mode, ModeModule> = MODE_TABLE): ModeLoader {
  return async (name) => {
    const entry = table[name]
    const relative = entry.module.startsWith('../') ? entry.module.slice(3) : fileURLToPath(entry.module)
    const shown = entry.module.startsWith('../') ? `lib/${relative}` : relative
    let module: Record<string, unknown>
    try {
      module = (await import(entry.module)) as Record<string, unknown>
    } catch (error) {
      // "Cannot find module '/…/lib/monitor/mode.js' imported from …": the mode itself, not one of its imports
      const missingPath = /Cannot find module '([^']+)'/.exec(errorMessage(error))?.[1] ?? ''
      const missing = (error as {code?: string}).code === 'ERR_MODULE_NOT_FOUND' && missingPath.endsWith(relative)
      throw new Error(
        missing ? `${shown} is not part of this build` : `cannot load ${shown}: ${errorMessage(error).split('\n')[0]}`,
      )
    }
    const factory = module[entry.factory]
    if (typeof factory !== 'function') throw new TypeError(`${shown} does not export ${entry.factory}()`)
    const mode = (await (factory as () => ServiceMode | Promise<ServiceMode>)()) as ServiceMode | undefined
    if (!mode || typeof mode.start !== 'function' || typeof mode.stop !== 'function') {
      throw new TypeError(`${entry.factory}() of ${shown} did not return a ServiceMode`)
    }
    return mode
  }
}

/** The loader `homeops serve` uses. */
export const loadMode: ModeLoader = modeLoader()
