import type {DdnsProvider, ProviderDeps} from './provider.js'

/** Loads only the provider module a record uses. Infomaniak speaks dyndns2 at its own default endpoint. */
export async function createProvider(deps: ProviderDeps): Promise<DdnsProvider> {
  switch (deps.record.provider) {
    case 'infomaniak':
    case 'dyndns2': {
      const {Dyndns2Provider} = await import('./dyndns2.js')
      return new Dyndns2Provider(deps)
    }
    case 'duckdns': {
      const {DuckDnsProvider} = await import('./duckdns.js')
      return new DuckDnsProvider(deps)
    }
    case 'cloudflare': {
      const {CloudflareProvider} = await import('./cloudflare.js')
      return new CloudflareProvider(deps)
    }
  }
}
