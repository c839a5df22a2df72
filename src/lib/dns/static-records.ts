import {addressFamily, nameProblem, normalizeName} from './names.js'

const FORM = 'expected name: address, name: address1,address2 or name: other.name (a CNAME); * only as the first label'

/**
 * Problems of the static records of the config (`dns.records`), checked by
 * the schema at load so `config validate` refuses what `dns serve` could not
 * serve: bad names, empty values, a CNAME mixed with addresses, CNAME chains
 * that loop back on themselves.
 */
export function staticRecordProblems(
  records: Record<string, string | undefined>,
): {key: string; message: string; atKey?: boolean}[] {
  const problems: {key: string; message: string; atKey?: boolean}[] = []
  const targets = new Map<string, string>()
  for (const [name, raw] of Object.entries(records)) {
    const problem = entryProblem(name, String(raw ?? ''))
    if (problem) problems.push({key: name, message: `${problem}; ${FORM}`, atKey: problem.startsWith('the name')})
    else {
      const parts = split(String(raw))
      if (parts.length === 1 && addressFamily(parts[0]!) === undefined)
        targets.set(normalizeName(name), normalizeName(parts[0]!))
    }
  }
  const reported = new Set<string>()
  for (const [name, raw] of Object.entries(records)) {
    const start = normalizeName(name)
    if (!targets.has(start) || reported.has(start)) continue
    const chain = [start]
    const seen = new Set(chain)
    let next = targets.get(start)
    while (next !== undefined && chain.length <= targets.size) {
      if (seen.has(next)) {
        if (next === start) {
          for (const member of chain) reported.add(member)
          problems.push({
            key: name,
            message: `CNAME loop: ${[...chain, next].join(' → ')} (value "${String(raw)}"); a CNAME must end at a name with addresses`,
          })
        }
        break
      }
      chain.push(next)
      seen.add(next)
      next = targets.get(next)
    }
  }
  return problems
}

function split(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function entryProblem(name: string, value: string): string | undefined {
  const problem = nameProblem(normalizeName(name))
  if (problem) return `the name "${name}" is not valid (${problem})`
  const parts = split(value)
  if (parts.length === 0) return 'no address or target name'
  for (const part of parts) {
    if (addressFamily(part) !== undefined) continue
    if (/^[\d.]+$/.test(part) || part.includes(':')) return `"${part}" is not a valid IP address`
    if (parts.length > 1) return `"${part}" is not an IP address (a CNAME target must be alone)`
    const target = nameProblem(normalizeName(part))
    if (target) return `"${part}" is neither an IP address nor a valid name (${target})`
  }
  return undefined
}
