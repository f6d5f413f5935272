// Who a realtime client is, and what it may do on a private channel. Tokens are the project's JWTs (or its
// API keys), checked as Supabase realtime checks them (role and exp required); private channels are authorized by the
// project's own RLS policies on realtime.messages, evaluated in the project database as the subscriber's API
// role with its claims — never as a privileged role.
import { switchContext, withContext } from '../../../db/src/context.ts';
import { projectPool } from '../../../db/src/pools.ts';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { dbRole, type ApiRole } from '../../../db/src/roles.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';
import { JwtError, type Claims } from '../project/jwt.ts';
import { isApiKey } from '../project/keyring.ts';
import { API_ROLES, identifyToken, thirdPartyRole, verifiedToken } from '../project/keys.ts';

export class ChannelError extends Error {
  readonly code: string;
  constructor(code: string, message: string) { super(message); this.code = code; }
  /** Supabase's `reason`: `Code: message`. */
  get reason() { return `${this.code}: ${this.message}`; }
}

export interface Subscriber { role: ApiRole; claims: Claims; token: string; exp: number }

/** Verifies a token for a channel; throws ChannelError with Supabase's code and message. */
export function verifyToken(project: ProjectRuntime, token: string, now = Date.now() / 1000): Subscriber {
  let claims: Claims;
  let thirdParty = false;
  if (isApiKey(token)) {
    // A project API key (supabase-js' key when nobody is signed in) stands for its role; it never expires.
    let id;
    try { id = identifyToken(token, project); } catch { throw new ChannelError('InvalidJWTToken', 'Invalid API key'); }
    return { role: id.role, claims: id.claims, token, exp: Number.MAX_SAFE_INTEGER };
  }
  try {
    const v = verifiedToken(token, project);
    claims = v.claims;
    thirdParty = v.key.thirdParty !== undefined;
  } catch (err) {
    if (err instanceof JwtError && (err.reason === 'bad_signature' || err.reason === 'legacy_disabled' || err.reason === 'issuer')) {
      throw new ChannelError('JwtSignatureError', 'Failed to validate JWT signature');
    }
    throw new ChannelError('MalformedJWT', 'The token provided is not a valid JWT');
  }
  if (thirdParty) {
    try { claims = { ...claims, role: thirdPartyRole(claims) }; } catch (e) { throw new ChannelError('Unauthorized', (e as Error).message); }
  }
  if (typeof claims.role !== 'string' || typeof claims.exp !== 'number') {
    throw new ChannelError('InvalidJWTToken', 'Fields `role` and `exp` are required in JWT');
  }
  const left = Math.floor(claims.exp - now);
  if (left <= 0) throw new ChannelError('InvalidJWTToken', `Token has expired ${-left} seconds ago`);
  if (!(API_ROLES as readonly string[]).includes(claims.role)) {
    throw new ChannelError('Unauthorized', `role "${claims.role}" does not exist`);
  }
  return { role: claims.role as ApiRole, claims, token, exp: claims.exp };
}

export interface Policies { broadcastRead: boolean; broadcastWrite: boolean; presenceRead: boolean; presenceWrite: boolean }

export const ALL: Policies = { broadcastRead: true, broadcastWrite: true, presenceRead: true, presenceWrite: true };

export async function pool(project: ProjectRuntime) {
  return projectPool(await authenticatorAddress(project), project.db_name, { max: 5 });
}

/** Supabase's check, as the subscriber: read = a probe row of each extension is visible under the select
 *  policies; write = inserting one passes the insert policies. The probe rows are written as the project's
 *  own service role (the owner's triggers on realtime.messages run with no more than the project's rights)
 *  and everything is rolled back. */
export async function channelPolicies(project: ProjectRuntime, sub: Subscriber, topic: string): Promise<Policies> {
  if (sub.role === 'service_role') return ALL;
  const role = dbRole(project, sub.role);
  const service = dbRole(project, 'service_role');
  const ctx = { role, claims: sub.claims, path: '/realtime/v1', settings: { 'realtime.topic': topic } };
  return withContext(await pool(project), ctx, async (c) => {
    const probe = async (extension: string) => {
      await switchContext(c, { ...ctx, role: service });
      const { rows } = await c.query(
        `insert into realtime.messages (topic, extension, private) values ($1, $2, true) returning id`, [topic, extension]);
      await switchContext(c, ctx);
      const read = (await c.query('select 1 from realtime.messages where id = $1', [rows[0].id])).rowCount === 1;
      await c.query('savepoint w');
      let write = true;
      try {
        await c.query(`insert into realtime.messages (topic, extension, private) values ($1, $2, true)`, [topic, extension]);
      } catch {
        write = false;
      }
      await c.query('rollback to savepoint w');
      return [read, write];
    };
    const [broadcastRead, broadcastWrite] = await probe('broadcast');
    const [presenceRead, presenceWrite] = await probe('presence');
    return { broadcastRead, broadcastWrite, presenceRead, presenceWrite };
  }, { rollback: true });
}
