// Sites settings from the environment, read on first use (so a test can set them before its first request).
import { envInt } from '../../../db/src/config.ts';

export interface SitesSettings {
  /** Sites are served at `<subdomain>.<domain>` (and `<subdomain>--staging.<domain>` for staging) when set. */
  domain: string | undefined;
  /** Most bytes a deploy may hold (all files, uncompressed), and a zip upload may be. */
  maxDeployBytes: number;
  /** Most bytes of one file. */
  maxFileBytes: number;
  /** Most files a deploy may hold (zip entries counted, directories included). */
  maxFiles: number;
  /** Largest uncompressed/compressed ratio of a zip entry (a bomb's is in the thousands). */
  maxZipRatio: number;
  /** Most rules read from `_headers` and from `_redirects`. */
  maxRules: number;
  /** Deploys of a site kept (besides the live and the staging one) when the sweep runs; older ones go. */
  keepDeploys: number;
  /** Stored files younger than this are never swept (an upload whose row is not recorded yet). */
  blobGraceMs: number;
}

let settings: SitesSettings | undefined;

export function sitesSettings(): SitesSettings {
  if (settings) return settings;
  const domain = process.env.LOAM_SITES_DOMAIN?.trim().toLowerCase().replace(/^\.+|\.+$/g, '') || undefined;
  settings = {
    domain,
    maxDeployBytes: envInt('LOAM_SITES_MAX_DEPLOY_BYTES', 100 * 1024 ** 2, 1),
    maxFileBytes: envInt('LOAM_SITES_MAX_FILE_BYTES', 25 * 1024 ** 2, 1),
    maxFiles: envInt('LOAM_SITES_MAX_FILES', 5000, 1),
    maxZipRatio: envInt('LOAM_SITES_MAX_ZIP_RATIO', 100, 1),
    maxRules: envInt('LOAM_SITES_MAX_RULES', 200, 1),
    keepDeploys: envInt('LOAM_SITES_KEEP_DEPLOYS', 20, 1),
    blobGraceMs: envInt('LOAM_SITES_BLOB_GRACE_SECONDS', 3600, 0) * 1000,
  };
  return settings;
}

export type DeployLimits = Pick<SitesSettings, 'maxDeployBytes' | 'maxFileBytes' | 'maxFiles' | 'maxZipRatio'>;

/** The operator's limits, lowered to a plan's. */
export function deployLimits(plan?: { max_deploy_bytes: number | string; max_files: number } | null): DeployLimits {
  const s = sitesSettings();
  if (!plan) return s;
  return {
    maxDeployBytes: Math.min(s.maxDeployBytes, Number(plan.max_deploy_bytes)),
    maxFileBytes: Math.min(s.maxFileBytes, Number(plan.max_deploy_bytes)),
    maxFiles: Math.min(s.maxFiles, plan.max_files),
    maxZipRatio: s.maxZipRatio,
  };
}
