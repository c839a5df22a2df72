import type {DoctorChecks} from '../area.js'
import type {Check} from '../doctor/check.js'
import {errorMessage} from '../errors.js'
import {type DdnsConfig, effectiveRecords} from './records.js'

/** ddns needs at least one record, each with its provider's credentials; without one `/health` stays 503. */
export function ddnsRecordsCheck(ddns: DdnsConfig): Check {
  const title = 'DDNS records'
  try {
    const records = effectiveRecords(ddns)
    if (records.length === 0) {
      return {
        id: 'ddns-records',
        title,
        ok: false,
        detail: 'no record configured: ddns has nothing to update',
        hint: 'add ddns.records (hostname, provider and its credentials), or set INFOMANIAK_DDNS_HOSTNAME/USERNAME/PASSWORD',
      }
    }
    const names = records.map((r) => `${r.name} (${r.provider})`)
    return {id: 'ddns-records', title, ok: true, detail: `${records.length} configured: ${names.join(', ')}`}
  } catch (error) {
    return {id: 'ddns-records', title, ok: false, detail: errorMessage(error), hint: (error as {hint?: string}).hint}
  }
}

/** For `homeops doctor` (`ddnsArea.doctor.module`). */
export const doctorChecks: DoctorChecks<DdnsConfig> = {
  async settings({section}) {
    return section ? [ddnsRecordsCheck(section)] : []
  },
}
