// The names of a project's database roles, derived from its ref in one place (provisioning, the data plane's
// request context, tests). The privilege layout they form is described in provisioning.ts and SECURITY.md.
export const API_ROLES = ['anon', 'authenticated', 'service_role'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ProjectRoles {
  owner: string;
  mgmt: string;
  authenticator: string;
  anon: string;
  authenticated: string;
  service_role: string;
  /** LOGIN, member of the owner: SUPABASE_DB_URL of the project's edge functions (server/src/functions/db-login.ts). */
  functions: string;
}

export function projectRoles(ref: string): ProjectRoles {
  return {
    owner: ref,
    mgmt: `${ref}_mgmt`,
    authenticator: `${ref}_authenticator`,
    anon: `${ref}_anon`,
    authenticated: `${ref}_authenticated`,
    service_role: `${ref}_service_role`,
    functions: `${ref}_functions`,
  };
}

/** The database role a request with this API role runs as in the project's database. */
export const dbRole = (project: { ref: string }, role: ApiRole): string => `${project.ref}_${role}`;
