// Public URLs of a site: `<subdomain>.<LOAM_SITES_DOMAIN>` when that is set, else `<public url>/sites/<subdomain>/`;
// the staging version answers at the same place under `<subdomain>--staging` (no subdomain may contain `--`).
import { config } from '../../../db/src/config.ts';
import { sitesSettings } from '../../../db/src/config.ts';

export const STAGING_SUFFIX = '--staging';

export function siteUrl(label: string): string {
  const { domain } = sitesSettings();
  if (domain) return `${new URL(config.publicUrl).protocol}//${label}.${domain}/`;
  return `${config.publicUrl}/sites/${label}/`;
}

export const siteUrls = (subdomain: string) => ({ live_url: siteUrl(subdomain), staging_url: siteUrl(subdomain + STAGING_SUFFIX) });
