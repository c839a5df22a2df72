import {obj, oneOf, str} from '../config/schema.js'

/**
 * How homeops gets credentials for a registry. `basic`: the username/password as given (Docker Hub,
 * GHCR, Harbor, a private registry, an ACR admin user). The others exchange what you configure for a
 * short-lived registry password, renewed before it expires: `ecr` (AWS GetAuthorizationToken, SigV4),
 * `gcr` (Google Artifact Registry / Container Registry: service-account key → OAuth token), `acr` (Azure:
 * service principal → AAD token → ACR refresh token), `gitlab` (job, deploy or personal access token),
 * `quay` (robot account, or an OAuth application token).
 */
export const REGISTRY_AUTH_TYPES = ['basic', 'ecr', 'gcr', 'acr', 'gitlab', 'quay'] as const
export type RegistryAuthType = (typeof REGISTRY_AUTH_TYPES)[number]

export const registryCredentialSchema = obj({
  host: str({nonEmpty: true, description: 'registry host as in image names, e.g. ghcr.io or 127.0.0.1:5000'}),
  type: oneOf(REGISTRY_AUTH_TYPES, {default: 'basic', description: 'how credentials are obtained'}),
  username: str(),
  password: str({secret: true}),
  token: str({secret: true, description: 'gitlab: job/deploy/personal token; quay: OAuth application token'}),
  region: str({description: 'ecr: AWS region (default: read from the host name)'}),
  accessKeyId: str({description: 'ecr: AWS access key id (default $AWS_ACCESS_KEY_ID)'}),
  secretAccessKey: str({secret: true, description: 'ecr: AWS secret access key (default $AWS_SECRET_ACCESS_KEY)'}),
  sessionToken: str({secret: true, description: 'ecr: AWS session token (default $AWS_SESSION_TOKEN)'}),
  serviceAccountKey: str({
    secret: true,
    description: 'gcr: the service account JSON key (serviceAccountKeyFile: its path)',
  }),
  tenantId: str({description: 'acr: Azure AD tenant'}),
  clientId: str({description: 'acr: service principal (application) id'}),
  clientSecret: str({secret: true, description: 'acr: service principal secret'}),
  endpoint: str({
    description:
      'the token service to ask instead of the public one (ecr: API URL, e.g. a VPC endpoint; acr: AAD authority)',
  }),
})

/** What a registry auth flow other than username/password starts from (cloud-auth.ts). */
export interface CloudAuthInput {
  host: string
  type: RegistryAuthType
  username?: string
  password?: string
  token?: string
  region?: string
  accessKeyId?: string
  secretAccessKey?: string
  sessionToken?: string
  serviceAccountKey?: string
  tenantId?: string
  clientId?: string
  clientSecret?: string
  endpoint?: string
}
