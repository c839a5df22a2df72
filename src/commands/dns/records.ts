import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'
import type {RecordsReport} from '../../lib/dns/service.js'

export default class DnsRecords extends HomeopsCommand<RecordsReport> {
  static override summary = 'List the names the DNS server would answer, with the source of each'
  static override description = `Reads the same sources as \`dns serve\` once (dns.records, HOSTS_DIRECTORY, container and Swarm service labels) and prints the merged records. When two kinds of source define one name, the stronger wins: static config, then hosts files, then Swarm services, then containers; conflicts are listed.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    'HOSTS_DIRECTORY=/etc/homeops/hosts <%= config.bin %> <%= command.id %> --no-docker',
  ]
  static override flags = {
    docker: Flags.boolean({
      description: 'read container and service labels (default: dns.docker, true)',
      allowNo: true,
    }),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<RecordsReport> {
    const {flags} = await this.parse(DnsRecords)
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{collectRecords}, {renderTable}] = await Promise.all([
      import('../../lib/dns/service.js'),
      import('../../lib/ui/terminal.js'),
    ])
    const report = await collectRecords(context, {dockerHost: flags['docker-host'], docker: flags.docker})
    if (this.jsonEnabled()) return report
    if (report.records.length === 0) {
      this.print(this.paint('muted', 'no records: label a container with homeops.dns.name, or set HOSTS_DIRECTORY'))
    } else {
      this.print(
        renderTable(
          this.terminal,
          [
            {header: 'NAME', value: (r) => r.name},
            {header: 'TYPE', value: (r) => r.type},
            {header: 'ANSWER', value: (r) => r.value},
            {header: 'TTL', value: (r) => String(r.ttl), align: 'right'},
            {header: 'SOURCE', value: (r) => r.source},
          ],
          report.records,
        ),
      )
    }
    const notes: string[] = []
    notes.push(`zones: ${report.zones.join(', ') || '(none)'}`)
    notes.push(`host ip: ${report.hostIp.addresses.join(', ')} (${report.hostIp.origin})`)
    if (report.docker?.lastError) notes.push(this.paint('warn', `docker: ${report.docker.lastError}`))
    else if (report.docker)
      notes.push(
        `docker: ${report.docker.address} (${report.docker.swarm === 'manager' ? 'Swarm manager' : 'containers only'})`,
      )
    const managers = report.swarmManagers
    if (managers?.lastError) notes.push(this.paint('warn', `swarm services: ${managers.lastError}`))
    else if (managers) notes.push(`swarm services: from the manager ${managers.address}`)
    for (const c of report.conflicts)
      notes.push(this.paint('warn', `conflict: ${c.name}: serving ${c.winner}, ignoring ${c.ignored}`))
    this.print(this.paint('muted', notes.join('\n')))
    return report
  }
}
