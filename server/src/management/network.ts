// Who may reach a project's database: allowed networks (`network-restrictions`), banned addresses
// (`network-bans`) and TLS enforcement (`ssl-enforcement`), in Supabase's shapes. Stored in the control database
// and enforced on the owner's psql login by the managed section of the server's pg_hba.conf (db/src/hba.ts), and
// on the SQL endpoint by platform.check_database_address.
import { Router, type Response } from 'express';
import { applyHbaRules } from '../../../db/src/hba.ts';
import { errors } from '../errors.ts';
import { body, bool, param, strArray, type Body } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';
import { findProject } from './projects.ts';

interface NetworkRow {
  project_id: string;
  db_allowed_cidrs: string[]; db_allowed_cidrs_v6: string[];
  old_allowed_cidrs: string[] | null; old_allowed_cidrs_v6: string[] | null;
  restrictions_updated_at: Date | null; restrictions_applied_at: Date | null;
  ssl_enforced: boolean;
}

// cidr[] comes back as Postgres array text from a composite; unnest to JSON in SQL instead.
const NETWORK_JSON = `select n.project_id, to_jsonb(n.db_allowed_cidrs::text[]) as db_allowed_cidrs,
  to_jsonb(n.db_allowed_cidrs_v6::text[]) as db_allowed_cidrs_v6, to_jsonb(n.old_allowed_cidrs::text[]) as old_allowed_cidrs,
  to_jsonb(n.old_allowed_cidrs_v6::text[]) as old_allowed_cidrs_v6, n.restrictions_updated_at, n.restrictions_applied_at, n.ssl_enforced`;

async function network(res: Response, fn: string, params: unknown[]): Promise<NetworkRow> {
  const [row] = await callerQuery<NetworkRow>(res, `${NETWORK_JSON} from ${fn} n`, params);
  return row;
}

/** Writes the project's server's pg_hba.conf rules; whether they are enforced there. */
async function enforce(res: Response, ref: string): Promise<boolean> {
  const p = await findProject(res, ref);
  if (!p.database_server_id) return false;
  return applyHbaRules(p.database_server_id);
}

// An address Postgres writes as `10.0.0.0/8` already; a host route keeps its prefix (`1.2.3.4/32`).
function restrictionsJson(n: NetworkRow, enforced: boolean) {
  return {
    entitlement: 'allowed',
    config: { dbAllowedCidrs: n.db_allowed_cidrs, dbAllowedCidrsV6: n.db_allowed_cidrs_v6 },
    ...(n.old_allowed_cidrs ? { old_config: { dbAllowedCidrs: n.old_allowed_cidrs, dbAllowedCidrsV6: n.old_allowed_cidrs_v6 ?? [] } } : {}),
    status: enforced ? 'applied' : 'stored',
    ...(n.restrictions_updated_at ? { updated_at: n.restrictions_updated_at } : {}),
    ...(enforced && n.restrictions_applied_at ? { applied_at: n.restrictions_applied_at } : {}),
    ...(enforced ? {} : { message: NOT_ENFORCED }),
  };
}

const NOT_ENFORCED = 'Stored and enforced on the SQL endpoint, but not on psql logins: this database server\'s pg_hba.conf has no '
  + 'Loam-managed section (the embedded server has one; on another server add the two marker lines, see README).';

/** Whether the rules are in force on psql logins: never changed from the defaults, or written since the last change. */
const applied = (n: NetworkRow) => !n.restrictions_updated_at
  || (!!n.restrictions_applied_at && n.restrictions_applied_at >= n.restrictions_updated_at);

function family(b: Body | undefined, key: string): string[] {
  return (b && strArray(b, key)) ?? [];
}

function section(b: Body, key: string): Body | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw errors.invalidBody(`${key} must be an object`);
  return v as Body;
}

export const networkManagement = Router();
networkManagement.use('/projects/:ref', authenticate);
const db = scope('database');

networkManagement.get('/projects/:ref/network-restrictions', db, async (req, res) => {
  const n = await network(res, 'platform.project_network($1)', [param(req, 'ref')]);
  res.json(restrictionsJson(n, applied(n)));
});

networkManagement.post('/projects/:ref/network-restrictions/apply', db, async (req, res) => {
  const b = body(req.body);
  const ref = param(req, 'ref');
  let n = await network(res, 'platform.set_network_restrictions($1, $2, $3)',
    [ref, family(b, 'dbAllowedCidrs'), family(b, 'dbAllowedCidrsV6')]);
  const enforced = await enforce(res, ref);
  if (enforced) n = await network(res, 'platform.project_network($1)', [ref]);
  res.status(201).json(restrictionsJson(n, enforced));
});

networkManagement.patch('/projects/:ref/network-restrictions', db, async (req, res) => {
  const b = body(req.body);
  const ref = param(req, 'ref');
  const add = section(b, 'add'), remove = section(b, 'remove');
  let n = await network(res, 'platform.patch_network_restrictions($1, $2, $3, $4, $5)',
    [ref, family(add, 'dbAllowedCidrs'), family(add, 'dbAllowedCidrsV6'), family(remove, 'dbAllowedCidrs'), family(remove, 'dbAllowedCidrsV6')]);
  const enforced = await enforce(res, ref);
  if (enforced) n = await network(res, 'platform.project_network($1)', [ref]);
  // This operation's own shape: each allowed network with its family.
  const typed = (v4: string[], v6: string[]) => ({ dbAllowedCidrs: [
    ...v4.map((address) => ({ address, type: 'v4' })), ...v6.map((address) => ({ address, type: 'v6' }))] });
  const { config: _c, old_config: _o, ...rest } = restrictionsJson(n, enforced);
  res.json({
    ...rest,
    config: typed(n.db_allowed_cidrs, n.db_allowed_cidrs_v6),
    ...(n.old_allowed_cidrs ? { old_config: typed(n.old_allowed_cidrs, n.old_allowed_cidrs_v6 ?? []) } : {}),
  });
});

const sslJson = (n: NetworkRow, enforced: boolean) =>
  ({ currentConfig: { database: n.ssl_enforced }, appliedSuccessfully: enforced });

networkManagement.get('/projects/:ref/ssl-enforcement', db, async (req, res) => {
  const n = await network(res, 'platform.project_network($1)', [param(req, 'ref')]);
  // Not enforcing is always in force; enforcing is only where the server's rules could be written.
  res.json(sslJson(n, !n.ssl_enforced || applied(n)));
});

networkManagement.put('/projects/:ref/ssl-enforcement', db, async (req, res) => {
  const requested = section(body(req.body), 'requestedConfig');
  const database = requested && bool(requested, 'database');
  if (database === undefined) throw errors.invalidBody('requestedConfig.database (a boolean) is required');
  const ref = param(req, 'ref');
  const n = await network(res, 'platform.set_ssl_enforcement($1, $2)', [ref, database]);
  const enforced = await enforce(res, ref);
  res.json(sslJson(n, !database || enforced));
});

const bans = (res: Response, ref: string) =>
  callerQuery<{ address: string; identifier: string; type: string }>(res, 'select host(address) as address, identifier, type from platform.network_bans($1)', [ref]);

networkManagement.post('/projects/:ref/network-bans/retrieve', scope('database', 'read'), async (req, res) => {
  res.status(201).json({ banned_ipv4_addresses: (await bans(res, param(req, 'ref'))).map((b) => b.address) });
});

networkManagement.post('/projects/:ref/network-bans/retrieve/enriched', scope('database', 'read'), async (req, res) => {
  res.status(201).json({ banned_ipv4_addresses: (await bans(res, param(req, 'ref')))
    .map((b) => ({ banned_address: b.address, identifier: b.identifier, type: b.type })) });
});

networkManagement.delete('/projects/:ref/network-bans', db, async (req, res) => {
  const b = body(req.body);
  const addresses = strArray(b, 'ipv4_addresses');
  if (!addresses) throw errors.invalidBody('ipv4_addresses is required');
  if (bool(b, 'requester_ip')) addresses.push(clientAddress(req.ip));
  const ref = param(req, 'ref');
  await callerQuery(res, 'select platform.remove_network_bans($1, $2)', [ref, addresses]);
  await enforce(res, ref);
  res.json({ message: 'ok' });
});

/** The caller's address as Postgres compares it: an IPv4 client reached over an IPv6 socket is IPv4. */
export function clientAddress(ip: string | undefined): string {
  const a = ip ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
