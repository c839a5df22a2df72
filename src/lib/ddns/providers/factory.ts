import type {DdnsProvider, ProviderDeps} from './provider.js'
import {providerInfo} from './registry.js'

/** Loads only the provider module a record uses (the registry says which). */
export async function createProvider(deps: ProviderDeps): Promise<DdnsProvider> {
  const module = providerInfo(deps.record.provider).module
  switch (module) {
    case 'dyndns2':
      return new (await import('./dyndns2.js')).Dyndns2Provider(deps)
    case 'duckdns':
      return new (await import('./duckdns.js')).DuckDnsProvider(deps)
    case 'cloudflare':
      return new (await import('./cloudflare.js')).CloudflareProvider(deps)
    case 'porkbun':
      return new (await import('./porkbun.js')).PorkbunProvider(deps)
    case 'namecheap':
      return new (await import('./namecheap.js')).NamecheapProvider(deps)
    case 'gandi':
      return new (await import('./gandi.js')).GandiProvider(deps)
    case 'hetzner':
      return new (await import('./hetzner.js')).HetznerProvider(deps)
    case 'digitalocean':
      return new (await import('./digitalocean.js')).DigitalOceanProvider(deps)
    case 'linode':
      return new (await import('./linode.js')).LinodeProvider(deps)
    case 'godaddy':
      return new (await import('./godaddy.js')).GoDaddyProvider(deps)
    case 'njalla':
      return new (await import('./njalla.js')).NjallaProvider(deps)
    case 'route53':
      return new (await import('./route53.js')).Route53Provider(deps)
    case 'desec-api':
      return new (await import('./desec-api.js')).DesecApiProvider(deps)
    case 'infomaniak-api':
      return new (await import('./infomaniak-api.js')).InfomaniakApiProvider(deps)
    case 'vultr':
      return new (await import('./vultr.js')).VultrProvider(deps)
    case 'dynv6':
      return new (await import('./dynv6.js')).Dynv6Provider(deps)
    case 'freedns':
      return new (await import('./freedns.js')).FreeDnsProvider(deps)
    case 'freemyip':
      return new (await import('./freemyip.js')).FreemyipProvider(deps)
    case 'ionos':
      return new (await import('./ionos.js')).IonosProvider(deps)
  }
}
