// Public URLs of a project's data plane: a subdomain when LOAM_PROJECT_DOMAIN is set, else a path prefix.
import { config } from '../../../db/src/config.ts';

export function projectBaseUrl(ref: string): string {
  if (config.projectDomain) {
    const scheme = new URL(config.publicUrl).protocol;
    return `${scheme}//${ref}.${config.projectDomain}`;
  }
  return `${config.publicUrl}/project/${ref}`;
}

export function projectUrls(ref: string) {
  const base = projectBaseUrl(ref);
  return {
    endpoint: base,
    rest_url: `${base}/rest/v1/`,
    graphql_url: `${base}/graphql/v1`,
    auth_url: `${base}/auth/v1/`,
    storage_url: `${base}/storage/v1/`,
  };
}
