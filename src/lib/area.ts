import type {InferShape, ObjectField, Shape} from './config/schema.js'
import type {Check, StateHandle} from './doctor/check.js'
import type {Migration} from './state/migrations.js'

/**
 * What a command group (ddns, images, monitor, swarm, dns) declares about itself, once, in its own
 * `src/lib/<group>/area.ts`; `src/lib/areas.ts` lists them and the core iterates that list: the config
 * schema (`config/root-schema.ts`, and so the environment variables and their docs), the state migrations
 * (`state/registry.ts`), the mode `homeops serve` runs (`serve/modes.ts`), what `homeops doctor` checks
 * (`doctor/checks.ts`) and what `homeops config validate` adds to the schema (`config/validate.ts`).
 *
 * Only plain data and small functions load with it (every command that reads the config loads every
 * area, the lean `ddns update` bundle too): `validate` imports what it needs when called, and the mode
 * and the doctor checks are module references, loaded only by `homeops serve` and `homeops doctor`.
 */
export interface Area<N extends string = string, S extends Shape = Shape> {
  /** The config key, the mode's name and the command topic. */
  readonly name: N
  /** The mode's title in the web UI. */
  readonly title: string
  /** The area's section of the config file (`<name>:`), with an `enabled` key for `homeops serve`. */
  readonly schema: ObjectField<S>
  /** Its tables, `area: '<name>'`, versions 1, 2, … (`state/migrations.ts`). */
  readonly migrations: readonly Migration[]
  readonly mode: ModeReference
  readonly doctor: AreaDoctor
  /** Rules across keys the schema cannot express; throws a UserError (exit 2). */
  validate?(section: InferShape<S>): Promise<void>
  /** The servers the area runs on its own (`<name> serve`) and whether a key guards their writes. */
  listeners?(section: InferShape<S>, serveApiKey: string | undefined): Listener[]
}

/**
 * The module of the mode and the factory it exports, relative to `src/lib` (`ddns/mode.js`). Data, not an
 * import: a mode whose module is missing or broken fails alone when `serve` loads it.
 */
export interface ModeReference {
  readonly module: string
  readonly factory: string
  /** Place on the page of `homeops serve` (lower first). */
  readonly page: number
}

export interface AreaDoctor {
  /** Checks the area's mode needs to pass when enabled: its own ids and the core's (`docker`, `serve-port`). */
  readonly needs: readonly string[]
  /**
   * The module of its own checks, relative to `src/lib` (`dns/doctor.js`), exporting `doctorChecks`
   * (`DoctorChecks`). A reference, as for the mode: only `homeops doctor` loads it.
   */
  readonly module?: string
}

/** What an area's doctor module exports as `doctorChecks`. */
export interface DoctorChecks<C> {
  /** What the host offers the area, checked whether or not the mode is enabled (after Docker). */
  host?(input: DoctorInput<C>): Promise<Check[]>
  /** The area's own settings and state, checked when its mode is enabled. */
  settings?(input: DoctorInput<C>): Promise<Check[]>
}

export interface DoctorInput<C> {
  /** Undefined when the config file could not be loaded (reported by the `config` check). */
  section: C | undefined
  enabled: boolean
  /** Open while the checks run; undefined when the database cannot be opened (the `state` check says why). */
  state: StateHandle | undefined
  /** The longest a Docker Engine call may stay silent (`docker.timeoutSeconds`). */
  dockerTimeoutMs: number
}

export interface Listener {
  /** `images serve on 0.0.0.0:8081`: how doctor names it. */
  readonly what: string
  readonly listen: string
  readonly keyed: boolean
  /** The setting that adds a key. */
  readonly hint: string
}

/** Keeps the literal name and the schema's shape in the type (what `HomeopsConfig` is inferred from). */
export function defineArea<const N extends string, S extends Shape>(area: Area<N, S>): Area<N, S> {
  return area
}
