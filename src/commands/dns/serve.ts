import {Flags} from '@oclif/core'

import {HomeopsCommand, dockerHostFlag} from '../../cli/homeops-command.js'

export interface DnsServeReport {
  dns: string[]
  url: string
  stopped: true
}

export default class DnsServe extends HomeopsCommand<DnsServeReport> {
  static override summary = 'Answer DNS for container and Swarm service labels, hosts files and static records'
  static override description = `Listens on DNS_BIND_ADDRESS:DNS_PORT (default 0.0.0.0, port 53 as root and 5353 otherwise) over UDP and TCP, IPv4 and IPv6. Names come from container and Swarm service labels (homeops.dns.name, joyride.host.name), hosts files in HOSTS_DIRECTORY and dns.records; they point at HOSTIP (default: the address of the default route) unless the source gives one. Other names go to the --upstream resolvers, or are refused. The status page, /health, /status, /dns/records and /metrics are on --http-listen (default 127.0.0.1:8053). Stops cleanly on SIGTERM/SIGINT.`
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --port 5353 --bind 127.0.0.1 --upstream 1.1.1.1,9.9.9.9',
    'HOSTS_DIRECTORY=/etc/homeops/hosts HOSTIP=192.168.1.10 <%= config.bin %> <%= command.id %> --zone home.lan',
  ]
  static override flags = {
    port: Flags.integer({
      description: 'DNS port (default: dns.port, DNS_PORT; 53 as root, else 5353)',
      min: 0,
      max: 65535,
    }),
    bind: Flags.string({description: 'address to answer on (default: dns.bind, DNS_BIND_ADDRESS, 0.0.0.0)'}),
    upstream: Flags.string({
      description:
        'resolvers for other names, comma-separated IP[:PORT] (default: dns.upstreams, DNS_UPSTREAMS, else the nameservers of /etc/resolv.conf)',
    }),
    zone: Flags.string({
      description: 'zones answered authoritatively, comma-separated (default: dns.zones)',
      multiple: true,
    }),
    'hosts-directory': Flags.string({
      description: 'hosts files to serve (default: dns.hostsDirectory, HOSTS_DIRECTORY)',
    }),
    'host-ip': Flags.string({description: 'address for names without one (default: HOSTIP, else the default route)'}),
    'http-listen': Flags.string({
      description: 'status page and JSON API, HOST:PORT, or "off" (default: dns.httpListen, 127.0.0.1:8053)',
      env: 'HOMEOPS_DNS_HTTP_LISTEN',
    }),
    docker: Flags.boolean({
      description: 'read container and service labels (default: dns.docker, true)',
      allowNo: true,
    }),
    'docker-host': dockerHostFlag,
  }

  async run(): Promise<DnsServeReport> {
    const {flags} = await this.parse(DnsServe)
    this.handleSignals()
    const context = await this.context({dockerHost: flags['docker-host']})
    const [{createDnsMode}, {startStandalone}, {parseListen}, {json}, files] = await Promise.all([
      import('../../lib/dns/mode.js'),
      import('../../lib/serve/standalone.js'),
      import('../../lib/http/address.js'),
      import('../../lib/http/router.js'),
      import('../../lib/http/static-files.js'),
    ])
    const split = (value: string | undefined) =>
      value === undefined
        ? undefined
        : value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
    const mode = createDnsMode({
      dockerHost: flags['docker-host'],
      overrides: {
        port: flags.port,
        bind: flags.bind,
        upstreams: split(flags.upstream),
        zones: flags.zone ? flags.zone.flatMap((z) => split(z) ?? []) : undefined,
        hostsDirectory: flags['hosts-directory'],
        hostIp: flags['host-ip'],
        docker: flags.docker,
      },
    })
    const httpListen = flags['http-listen'] ?? context.config.dns.httpListen
    const web = files.staticFiles(files.webRoot())
    const run = await startStandalone({
      context,
      mode,
      listen:
        httpListen === 'off'
          ? undefined
          : parseListen(httpListen, flags['http-listen'] ? '--http-listen' : 'dns.httpListen'),
      routes(router) {
        router.get('/', (request) => web({...request, params: {'*': 'dns/index.html'}}))
        router.get('/web/*', web)
        router.get('/favicon.ico', () => json(null, 204))
        router.get('/dns/records', () => mode.records()) // the original tool's path
      },
    })
    const addresses = mode.service()?.server?.addresses ?? []
    this.print(`dns answering on ${addresses.join(' ')}${run.url ? `; status page ${run.url}/` : ''}`)
    const managers = mode.service()?.managers?.status
    if (managers?.connected) this.print(`swarm services from the manager ${managers.address}`)
    else if (managers)
      this.print(this.paint('warn', `swarm services: ${managers.lastError ?? 'no manager reached yet'}`))
    await run.finished
    context.logger.info('dns server stopped')
    return {dns: addresses, url: run.url ?? '', stopped: true}
  }
}
