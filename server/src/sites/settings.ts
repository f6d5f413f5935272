// Deploy limits: the operator's (LOAM_SITES_*, db/src/config.ts), lowered to a plan's.
import { sitesSettings, type SitesSettings } from '../../../db/src/config.ts';

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
