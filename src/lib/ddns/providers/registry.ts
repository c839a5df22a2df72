/**
 * Every provider homeops speaks, as data: the config value, the module that implements it, its default
 * endpoint, the keys a record must set, and what the tests verify against its fake. `ddns.records[].provider`
 * accepts exactly these names; the table of docs/ddns.md is generated from this list (`npm run docs`).
 * Pure data: the config schema imports it at start-up, the modules load only when a record uses them.
 */
export type ProviderModule =
  | 'dyndns2'
  | 'duckdns'
  | 'cloudflare'
  | 'porkbun'
  | 'namecheap'
  | 'gandi'
  | 'hetzner'
  | 'digitalocean'
  | 'linode'
  | 'godaddy'
  | 'njalla'
  | 'route53'
  | 'desec-api'
  | 'infomaniak-api'
  | 'vultr'
  | 'dynv6'
  | 'freedns'
  | 'freemyip'
  | 'ionos'

/** Keys a record can set beyond `hostname`: which the provider needs, and what each means there. */
export type CredentialKey = 'username' | 'password' | 'token' | 'secret' | 'zone'

/** Quirks of one dyndns2 service: the protocol's shape stays, these details differ. */
export interface Dyndns2Quirks {
  /** Query parameter carrying an IPv6 address (`myip` when absent). */
  ipv6Param?: string
  /** Query parameter carrying an IPv4 address (`myip` when absent). */
  ipv4Param?: string
  /** The hostname is the username (Hurricane Electric, deSEC, Strato, nsupdate.info). */
  usernameIsHostname?: boolean
  /** Extra fixed query parameters (OVH `system=dyndns`, deSEC's `preserve` for the other family). */
  query?: Record<string, string>
  /** Query parameter for the hostname (`hostname` when absent; All-Inkl: `host`). */
  hostnameParam?: string
  /** The other family's parameter and value meaning "leave it" (deSEC `preserve`). */
  preserveOther?: {ipv4Param: string; ipv6Param: string; value: string}
}

export interface ProviderInfo {
  name: string
  label: string
  module: ProviderModule
  /** Default endpoint (overridable with `server`); undefined: the record must set `server`. */
  server?: string
  required: CredentialKey[]
  optional?: CredentialKey[]
  /** What `username`/`password`/`token`/`secret`/`zone` mean for this provider, for docs/ddns.md. */
  keys: string
  families: '4' | '4+6'
  docs: string
  quirks?: Dyndns2Quirks
  notes?: string
}

const VERIFIED = 'success, no change, auth failure, unknown host, rate limit'

/** What every provider's fake verifies (test/integration/ddns/providers-*.test.ts). */
export const VERIFIED_SCENARIOS = VERIFIED

export const PROVIDERS = [
  {
    name: 'infomaniak',
    label: 'Infomaniak (dyndns2)',
    module: 'dyndns2',
    server: 'https://infomaniak.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password: the dynamic DNS account of the domain',
    families: '4+6',
    docs: 'https://www.infomaniak.com/en/support/faq/2376',
    notes: 'answers successfully_changed/no_change; errors as HTTP 400',
  },
  {
    name: 'dyndns2',
    label: 'any dyndns2 server',
    module: 'dyndns2',
    required: ['username', 'password'],
    keys: 'username/password; server: the update URL (`/nic/update` added to a bare host)',
    families: '4+6',
    docs: 'https://help.dyn.com/remote-access-api/perform-update/',
  },
  {
    name: 'noip',
    label: 'No-IP',
    module: 'dyndns2',
    server: 'https://dynupdate.no-ip.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password (or a DDNS key pair)',
    families: '4+6',
    docs: 'https://www.noip.com/integrate/request',
    notes: '!donator, badagent and abuse block the record',
  },
  {
    name: 'dynu',
    label: 'Dynu',
    module: 'dyndns2',
    server: 'https://api.dynu.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password (the password may be its MD5 or SHA-256 hash)',
    families: '4+6',
    docs: 'https://www.dynu.com/DynamicDNS/IP-Update-Protocol',
    quirks: {ipv6Param: 'myipv6'},
    notes: 'IPv6 in myipv6',
  },
  {
    name: 'dyndns',
    label: 'DynDNS (Oracle Dyn)',
    module: 'dyndns2',
    server: 'https://members.dyndns.org/v3/update',
    required: ['username', 'password'],
    keys: 'username/updater client key',
    families: '4+6',
    docs: 'https://help.dyn.com/remote-access-api/perform-update/',
  },
  {
    name: 'strato',
    label: 'Strato',
    module: 'dyndns2',
    server: 'https://dyndns.strato.com/nic/update',
    required: ['password'],
    optional: ['username'],
    keys: 'password: the DynDNS password of the domain; username defaults to the hostname',
    families: '4+6',
    docs: 'https://www.strato.de/faq/domains/so-einfach-richten-sie-dyndns-fuer-ihre-domains-ein/',
    quirks: {usernameIsHostname: true},
  },
  {
    name: 'ovh',
    label: 'OVH DynHost',
    module: 'dyndns2',
    server: 'https://www.ovh.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password of the DynHost login',
    families: '4',
    docs: 'https://help.ovhcloud.com/csm/en-dns-dynhost',
    quirks: {query: {system: 'dyndns'}},
    notes: 'sends system=dyndns',
  },
  {
    name: 'google',
    label: 'Google-style dyndns2 (Squarespace Domains, self-hosted)',
    module: 'dyndns2',
    server: 'https://domains.google.com/nic/update',
    required: ['username', 'password'],
    keys: 'generated username/password of the dynamic record',
    families: '4+6',
    docs: 'https://support.google.com/domains/answer/6147083',
    notes: 'Google Domains closed in 2023; kept for endpoints speaking its variant',
  },
  {
    name: 'desec',
    label: 'deSEC (dyndns2)',
    module: 'dyndns2',
    server: 'https://update.dedyn.io/nic/update',
    required: ['token'],
    keys: 'token: the deSEC token; the username is the hostname',
    families: '4+6',
    docs: 'https://desec.readthedocs.io/en/latest/dyndns/update-api.html',
    quirks: {
      usernameIsHostname: true,
      ipv4Param: 'myipv4',
      ipv6Param: 'myipv6',
      preserveOther: {ipv4Param: 'myipv4', ipv6Param: 'myipv6', value: 'preserve'},
    },
    notes: 'myipv4/myipv6, the other family preserved; 429 with Retry-After',
  },
  {
    name: 'he',
    label: 'Hurricane Electric (dns.he.net)',
    module: 'dyndns2',
    server: 'https://dyn.dns.he.net/nic/update',
    required: ['password'],
    keys: "password: the record's dynamic DNS key; the username is the hostname",
    families: '4+6',
    docs: 'https://dns.he.net/docs.html',
    quirks: {usernameIsHostname: true},
  },
  {
    name: 'changeip',
    label: 'ChangeIP',
    module: 'dyndns2',
    server: 'https://nic.changeip.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password of the account',
    families: '4',
    docs: 'https://www.changeip.com/accounts/knowledgebase.php?action=displayarticle&id=34',
    quirks: {ipv4Param: 'ip'},
    notes: 'ip= parameter; answers "200 Successful Update"',
  },
  {
    name: 'loopia',
    label: 'Loopia',
    module: 'dyndns2',
    server: 'https://dyndns.loopia.se/',
    required: ['username', 'password'],
    keys: 'username/password of the Loopia API user',
    families: '4+6',
    docs: 'https://support.loopia.com/wiki/about-dynamic-dns-dyndns/',
  },
  {
    name: 'dnsomatic',
    label: 'DNS-O-Matic',
    module: 'dyndns2',
    server: 'https://updates.dnsomatic.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password of the account',
    families: '4',
    docs: 'https://www.dnsomatic.com/docs/api',
    quirks: {query: {wildcard: 'NOCHG', mx: 'NOCHG', backmx: 'NOCHG'}},
  },
  {
    name: 'spdyn',
    label: 'Securepoint DynDNS (spdyn)',
    module: 'dyndns2',
    server: 'https://update.spdyn.de/nic/update',
    required: ['username', 'password'],
    keys: 'username/password, or the hostname and its update token',
    families: '4+6',
    docs: 'https://wiki.securepoint.de/SPDyn/Variablen',
  },
  {
    name: 'selfhost',
    label: 'selfHOST.de',
    module: 'dyndns2',
    server: 'https://carol.selfhost.de/nic/update',
    required: ['username', 'password'],
    keys: 'username/password of the DynDNS account',
    families: '4+6',
    docs: 'https://www.selfhost.de/cgi-bin/selfhost?p=document&name=api',
  },
  {
    name: 'inwx',
    label: 'INWX',
    module: 'dyndns2',
    server: 'https://dyndns.inwx.com/nic/update',
    required: ['username', 'password'],
    keys: 'username/password of the DynDNS account',
    families: '4+6',
    docs: 'https://kb.inwx.com/en-us/3-nameserver/131',
    quirks: {ipv6Param: 'myipv6'},
  },
  {
    name: 'allinkl',
    label: 'All-Inkl (kasserver)',
    module: 'dyndns2',
    server: 'https://dyndns.kasserver.com/',
    required: ['username', 'password'],
    keys: 'username/password of the DDNS user',
    families: '4+6',
    docs: 'https://all-inkl.com/wichtig/anleitungen/kas/tools/dyndns/',
    quirks: {hostnameParam: 'host', ipv6Param: 'myip6'},
  },
  {
    name: 'nsupdate-info',
    label: 'nsupdate.info',
    module: 'dyndns2',
    server: 'https://ipv4.nsupdate.info/nic/update',
    required: ['password'],
    keys: "password: the host's update secret; the username is the hostname",
    families: '4',
    docs: 'https://nsupdateinfo.readthedocs.io/en/latest/user.html',
    quirks: {usernameIsHostname: true},
  },
  {
    name: 'ydns',
    label: 'YDNS',
    module: 'dyndns2',
    server: 'https://ydns.io/nic/update',
    required: ['username', 'password'],
    keys: 'API username/secret',
    families: '4+6',
    docs: 'https://ydns.io/api/',
  },
  {
    name: 'duckdns',
    label: 'DuckDNS',
    module: 'duckdns',
    server: 'https://www.duckdns.org/update',
    required: ['token'],
    keys: 'token: the account token; hostname ends in .duckdns.org',
    families: '4+6',
    docs: 'https://www.duckdns.org/spec.jsp',
  },
  {
    name: 'cloudflare',
    label: 'Cloudflare',
    module: 'cloudflare',
    server: 'https://api.cloudflare.com/client/v4',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: API token with Zone.DNS edit; zone: found from the hostname when unset',
    families: '4+6',
    docs: 'https://developers.cloudflare.com/api/resources/dns/subresources/records/methods/edit/',
    notes: 'updates only the content of an existing record (proxy flag, TTL kept)',
  },
  {
    name: 'porkbun',
    label: 'Porkbun',
    module: 'porkbun',
    server: 'https://api.porkbun.com/api/json/v3',
    required: ['token', 'secret'],
    optional: ['zone'],
    keys: 'token: API key (pk1_…); secret: secret API key (sk1_…); zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://porkbun.com/api/json/v3/documentation',
  },
  {
    name: 'namecheap',
    label: 'Namecheap',
    module: 'namecheap',
    server: 'https://dynamicdns.park-your-domain.com/update',
    required: ['password'],
    optional: ['zone'],
    keys: 'password: the Dynamic DNS password of the domain; zone: the domain (last two labels by default)',
    families: '4',
    docs: 'https://www.namecheap.com/support/knowledgebase/article.aspx/29/11/how-to-dynamically-update-the-hosts-ip-with-an-http-request/',
    notes: 'IPv4 only (Namecheap dynamic DNS has no AAAA)',
  },
  {
    name: 'gandi',
    label: 'Gandi LiveDNS',
    module: 'gandi',
    server: 'https://api.gandi.net/v5/livedns',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: personal access token; zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://api.gandi.net/docs/livedns/',
  },
  {
    name: 'hetzner',
    label: 'Hetzner DNS',
    module: 'hetzner',
    server: 'https://dns.hetzner.com/api/v1',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: DNS API token (Auth-API-Token); zone: the zone name (last two labels by default)',
    families: '4+6',
    docs: 'https://dns.hetzner.com/api-docs',
  },
  {
    name: 'digitalocean',
    label: 'DigitalOcean',
    module: 'digitalocean',
    server: 'https://api.digitalocean.com/v2',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: personal access token (domain write); zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records',
  },
  {
    name: 'linode',
    label: 'Linode (Akamai)',
    module: 'linode',
    server: 'https://api.linode.com/v4',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: personal access token (domains read/write); zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://techdocs.akamai.com/linode-api/reference/put-domain-record',
  },
  {
    name: 'godaddy',
    label: 'GoDaddy',
    module: 'godaddy',
    server: 'https://api.godaddy.com/v1',
    required: ['token', 'secret'],
    optional: ['zone'],
    keys: 'token: API key; secret: API secret; zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://developer.godaddy.com/doc/endpoint/domains',
  },
  {
    name: 'njalla',
    label: 'Njalla',
    module: 'njalla',
    server: 'https://njal.la/update/',
    required: ['token'],
    keys: "token: the dynamic record's key",
    families: '4+6',
    docs: 'https://njal.la/docs/ddns/',
  },
  {
    name: 'route53',
    label: 'Amazon Route 53',
    module: 'route53',
    server: 'https://route53.amazonaws.com/2013-04-01',
    required: ['token', 'secret', 'zone'],
    keys: 'token: access key id; secret: secret access key; zone: hosted zone id (Z…)',
    families: '4+6',
    docs: 'https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html',
    notes: 'SigV4-signed UPSERT; reads the record set first so an unchanged address is not resent',
  },
  {
    name: 'desec-api',
    label: 'deSEC (REST API)',
    module: 'desec-api',
    server: 'https://desec.io/api/v1',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: the deSEC token; zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://desec.readthedocs.io/en/latest/dns/rrsets.html',
  },
  {
    name: 'infomaniak-api',
    label: 'Infomaniak (REST API)',
    module: 'infomaniak-api',
    server: 'https://api.infomaniak.com/2',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: API token with the dns scope; zone: the zone (last two labels by default)',
    families: '4+6',
    docs: 'https://developer.infomaniak.com/docs/api',
  },
  {
    name: 'vultr',
    label: 'Vultr',
    module: 'vultr',
    server: 'https://api.vultr.com/v2',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: API key; zone: the domain (last two labels by default)',
    families: '4+6',
    docs: 'https://www.vultr.com/api/#tag/dns',
  },
  {
    name: 'dynv6',
    label: 'dynv6',
    module: 'dynv6',
    server: 'https://dynv6.com/api/update',
    required: ['token'],
    keys: 'token: the HTTP token; hostname: the zone (e.g. myhome.dynv6.net)',
    families: '4+6',
    docs: 'https://dynv6.com/docs/apis',
  },
  {
    name: 'freedns',
    label: 'FreeDNS (afraid.org)',
    module: 'freedns',
    server: 'https://sync.afraid.org/u',
    required: ['token'],
    keys: "token: the record's randomized update token (v2 dynamic update)",
    families: '4+6',
    docs: 'https://freedns.afraid.org/dynamic/v2/',
  },
  {
    name: 'freemyip',
    label: 'freemyip',
    module: 'freemyip',
    server: 'https://freemyip.com/update',
    required: ['token'],
    keys: 'token: the token of the domain',
    families: '4+6',
    docs: 'https://freemyip.com/help',
  },
  {
    name: 'ionos',
    label: 'IONOS (DNS API)',
    module: 'ionos',
    server: 'https://api.hosting.ionos.com/dns/v1',
    required: ['token'],
    optional: ['zone'],
    keys: 'token: API key "prefix.secret" (X-API-Key); zone: the zone name (last two labels by default)',
    families: '4+6',
    docs: 'https://developer.hosting.ionos.com/docs/dns',
  },
] as const satisfies readonly ProviderInfo[]

export type DdnsProviderName = (typeof PROVIDERS)[number]['name']

export const DDNS_PROVIDER_NAMES = PROVIDERS.map((p) => p.name) as unknown as readonly [
  DdnsProviderName,
  ...DdnsProviderName[],
]

export function providerInfo(name: DdnsProviderName): ProviderInfo {
  return PROVIDERS.find((p) => p.name === name)!
}
