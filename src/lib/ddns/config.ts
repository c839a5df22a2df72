import {LOG_LEVELS} from '../log/logger.js'
import {array, bool, list, num, obj, oneOf, str} from '../config/schema.js'

import {notifierSchema} from '../notify/config.js'
import {DDNS_PROVIDER_NAMES} from './providers/registry.js'

export type {DdnsProviderName} from './providers/registry.js'

export const ddnsRecordSchema = obj({
  name: str({description: 'label for status and logs; defaults to the hostname'}),
  provider: oneOf(DDNS_PROVIDER_NAMES, {default: 'infomaniak', description: 'see the provider table in the README'}),
  hostname: str({nonEmpty: true, description: 'the fully qualified name to update'}),
  username: str(),
  password: str({secret: true}),
  token: str({secret: true, description: 'API token or key (its meaning per provider: README table)'}),
  secret: str({secret: true, description: 'second API credential (Porkbun, GoDaddy, Route 53 secret access key)'}),
  server: str({
    description:
      'endpoint: dyndns2 base URL (e.g. https://dynupdate.no-ip.com; /nic/update is added when there is no path), DuckDNS update URL, Cloudflare API base',
  }),
  zone: str({description: 'zone (domain) of the hostname, or the Route 53 hosted zone id'}),
  ipv4: bool({default: true}),
  ipv6: bool({description: 'defaults to ddns.ipv6'}),
  ipSources: obj({
    v4: list(str(), {description: "this record's own IPv4 sources (as ddns.ipSources.v4); empty = the global list"}),
    v6: list(str(), {description: "this record's own IPv6 sources; empty = the global list"}),
  }),
})

export const ddnsSchema = obj({
  enabled: bool({default: false, description: 'run the ddns loop in `homeops serve`'}),
  intervalSeconds: num({default: 300, min: 15, max: 7 * 86400, unit: 'seconds', env: ['DDNS_INTERVAL_SECONDS']}),
  ipv6: bool({default: false, env: ['DDNS_ENABLE_IPV6']}),
  logLevel: oneOf(LOG_LEVELS, {env: ['DDNS_LOG_LEVEL']}),
  requestTimeout: num({
    default: 10,
    min: 1,
    max: 300,
    unit: 'seconds',
    env: ['DDNS_REQUEST_TIMEOUT'],
    description: 'seconds',
  }),
  maxRetries: num({
    default: 3,
    min: 0,
    max: 10,
    integer: true,
    env: ['DDNS_MAX_RETRIES'],
    description: 'in-run retries, only for a provider that could not be reached (refused, name not resolved)',
  }),
  retryBackoff: num({
    default: 2,
    min: 0,
    max: 3600,
    unit: 'seconds',
    env: ['DDNS_RETRY_BACKOFF'],
    description: 'seconds, doubled per retry (each wait capped at 5 s)',
  }),
  maxAgeDays: num({
    default: 25,
    min: 0,
    max: 365,
    env: ['DDNS_MAX_AGE_DAYS'],
    description: 'resend an unchanged address after this many days (providers expire idle records); 0 = never',
  }),
  checkResolver: str({
    env: ['DDNS_CHECK_RESOLVER'],
    description:
      'resolver (IP[:port]) asked whether a record holds the address after an unknown outcome; default: the system resolver',
  }),
  server: str({env: ['DDNS_SERVER'], description: 'default dyndns2 server for records that set none'}),
  ipSources: obj({
    v4: list(str(), {
      env: ['DDNS_IP_SOURCES_V4'],
      description:
        'https:// echo URLs, dns://RESOLVER/NAME?type=A|TXT[&class=CH], iface://NAME or exec:/path [args], tried in order; empty = built-in list',
    }),
    v6: list(str(), {env: ['DDNS_IP_SOURCES_V6'], description: 'as v4, for IPv6 (type=AAAA|TXT)'}),
  }),
  requireAgreement: num({
    default: 1,
    min: 1,
    max: 2,
    integer: true,
    env: ['DDNS_REQUIRE_AGREEMENT'],
    description: 'how many sources must give the same address',
  }),
  records: array(ddnsRecordSchema),
  notifiers: array(notifierSchema, {
    description: 'notified when a record changes address, is blocked, or fails notifyAfterFailures runs',
  }),
  notifyAfterFailures: num({
    default: 3,
    min: 0,
    max: 1000,
    integer: true,
    env: ['DDNS_NOTIFY_AFTER_FAILURES'],
    description: 'notify once when a record has failed this many runs in a row; 0 = never',
  }),
  // The original single-record tool: these form one implicit Infomaniak record.
  hostname: str({env: ['INFOMANIAK_DDNS_HOSTNAME']}),
  username: str({env: ['INFOMANIAK_DDNS_USERNAME']}),
  password: str({secret: true, env: ['INFOMANIAK_DDNS_PASSWORD']}),
})
