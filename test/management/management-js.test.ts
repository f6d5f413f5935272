// supabase-management-js 2.0.2 (the community client generated from Supabase's Management API) against Loam,
// unmodified, with `baseUrl` at Loam and a Loam access token: every method of its SupabaseManagementAPI class
// whose operation Loam serves is called and its answer asserted. The last test derives that set from the
// client's own code and Loam's /v1/openapi.json, so a method Loam starts serving must be added here.
//
// Methods that fail against Loam, and why (their operations are not built; `npm run coverage:v1` lists them):
//   restoreABranch and action runs (listActionRuns, countActionRuns, getActionRun, getActionRunLogs,
//     updateActionRunStatus): branches are deleted at once, and no git workflow runs.
//   listAvailableRestoreVersions, cancelAProjectRestoration: no physical backups.
//   custom hostnames and vanity subdomains (getHostnameConfig, updateHostnameConfig, verifyDnsConfig,
//     activateCustomHostname, deleteHostnameConfig, *VanitySubdomain*): projects are served at <ref>.<domain>;
//     a custom domain belongs to sites.
//   JIT access, read replicas, disk (getDiskUtilization, modifyDatabaseDisk, getProjectDiskAutoscaleConfig),
//     Postgres upgrades, pgsodium, login roles (createLoginRole, deleteLoginRoles), project claim
//     tokens, OAuth apps (authorizeUser, exchangeOauthToken, revokeToken), add-on changes (applyProjectAddon,
//     removeProjectAddon), shutdownRealtime, enableDatabaseWebhook, getProjectFunctionCombinedStats: not built.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SupabaseManagementAPI } from 'supabase-management-js';
import { managementSpec } from '../../server/src/management/openapi-spec.ts';
import { createProject, http, loam, sql, waitForStatus, type Project } from '../helpers/platform.ts';

let p: Project;
let api: SupabaseManagementAPI;
const called = new Set<string>();

/** The client, with every method call recorded (for the completeness check at the end). */
function client(accessToken: string, baseUrl: string): SupabaseManagementAPI {
  const real = new SupabaseManagementAPI({ accessToken, baseUrl });
  return new Proxy(real, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver);
      if (typeof v !== 'function' || typeof name !== 'string') return v;
      return (...args: unknown[]) => { called.add(name); return v.apply(target, args); };
    },
  });
}

test('setup', async () => {
  p = await createProject();
  api = client(p.owner.token, (await loam()).url);
});

test('organizations and projects', async () => {
  const orgs = await api.listAllOrganizations();
  assert.ok(orgs.data.some((o) => o.id === p.owner.org));
  const org = await api.getAnOrganization(p.owner.org);
  assert.equal(org.data.id, p.owner.org);
  const members = await api.listOrganizationMembers(p.owner.org);
  assert.ok(members.data.some((m) => m.email === p.owner.email), JSON.stringify(members.data));
  const made = await api.createAnOrganization({ name: 'mgmt-js org' });
  assert.equal(made.status, 201);
  assert.equal(made.data.name, 'mgmt-js org');

  const regions = await api.getAvailableRegions({ organization_slug: p.owner.org });
  assert.ok(regions.data.all.specific.some((r) => r.code === 'eu-west-2'));
  const created = await api.createAProject({ name: 'mgmt-js', organization_slug: p.owner.org, db_pass: 'a long db password', region: 'eu-west-2' });
  assert.equal(created.status, 201);
  assert.equal(created.data.region, 'eu-west-2');
  const ref = created.data.id;
  await waitForStatus(p.owner.token, ref, 'ACTIVE_HEALTHY', 60_000);
  assert.ok((await api.listAllProjects()).data.some((x) => x.id === ref));
  assert.equal((await api.getProject(ref)).data.status, 'ACTIVE_HEALTHY');
  const page = await api.getAllProjectsForOrganization(p.owner.org, { sort: 'name_asc', limit: 1, search: 'mgmt' });
  assert.deepEqual(page.data.pagination, { count: 1, limit: 1, offset: 0 });
  assert.deepEqual(page.data.projects.map((x) => [x.ref, x.name, x.region, x.status, x.is_branch]), [[ref, 'mgmt-js', 'eu-west-2', 'ACTIVE_HEALTHY', false]]);
  const all = await api.getAllProjectsForOrganization(p.owner.org, { sort: 'created_asc' });
  assert.deepEqual(all.data.projects.map((x) => x.ref), [p.ref, ref]);
  assert.equal((await api.getAllProjectsForOrganization(p.owner.org, { statuses: 'INACTIVE' })).data.pagination.count, 0);
  await assert.rejects(api.getAllProjectsForOrganization(p.owner.org, { limit: 101 }), (e: { status?: number }) => e.status === 400);
  assert.equal((await api.updateAProject(ref, { name: 'renamed' })).data.name, 'renamed');
  const health = await api.getServicesHealth(ref, { services: ['db', 'rest', 'auth'] });
  assert.deepEqual(health.data.map((s) => [s.name, s.healthy]).sort(), [['auth', true], ['db', true], ['rest', true]]);
  await api.pauseAProject(ref);
  await waitForStatus(p.owner.token, ref, 'INACTIVE');
  await api.restoreAProject(ref);
  await waitForStatus(p.owner.token, ref, 'ACTIVE_HEALTHY', 60_000);
  assert.equal((await api.deleteAProject(ref)).data.ref, ref);
  await assert.rejects(api.getProject(ref), (e: Error) => /404/.test(String((e as { status?: number }).status ?? e.message)));
});

test('database: query, migrations, types, advisors, password', async () => {
  const q = await api.runAQuery(p.ref, { query: 'create table notes (id bigint primary key, body text); select 1 as one' });
  assert.deepEqual(q.data, [{ one: 1 }]);
  const ro = await api.readOnlyQuery(p.ref, { query: 'select count(*)::int as n from notes where id > $1', parameters: [0] });
  assert.deepEqual(ro.data, [{ n: 0 }]);
  await assert.rejects(api.readOnlyQuery(p.ref, { query: "insert into notes values (1, 'x')" }),
    (e: { status?: number; message: string }) => e.status === 400 && /read-only transaction/.test(JSON.stringify(e)));
  // Parameters that do not match the statement are the caller's mistake: 400, not "database unavailable".
  await assert.rejects(api.readOnlyQuery(p.ref, { query: 'select 1', parameters: [1, 2] }), (e: { status?: number }) => e.status === 400);
  await assert.rejects(api.runAQuery(p.ref, { query: 'select 1', parameters: [1, 2] }), (e: { status?: number }) => e.status === 400);
  const context = await api.getDatabaseMetadata(p.ref);
  assert.equal(context.data.databases[0].name, p.ref);
  const schemas = context.data.databases[0].schemas.map((x) => x.name);
  assert.ok(schemas.includes('public') && schemas.includes('auth') && !schemas.includes('pg_catalog'), schemas.join());
  assert.deepEqual((await api.listMigrationHistory(p.ref)).data, []);
  await api.applyAMigration(p.ref, { name: 'add_tags', query: 'create table tags (id bigint primary key, note_id bigint references notes (id))' });
  await api.upsertAMigration(p.ref, { name: 'add_index', query: 'create index on tags (note_id)' }, { headers: { 'Idempotency-Key': 'mgmt-js-1' } });
  const history = (await api.listMigrationHistory(p.ref)).data;
  assert.deepEqual(history.map((m) => m.name), ['add_tags', 'add_index']);
  const one = await api.getAMigration(p.ref, history[0].version);
  assert.equal(one.data.name, 'add_tags');
  assert.deepEqual(one.data.statements, ['create table tags (id bigint primary key, note_id bigint references notes (id))']);
  await api.patchAMigration(p.ref, history[0].version, { rollback: 'drop table tags' });
  assert.equal((await api.getAMigration(p.ref, history[0].version)).data.rollback?.[0], 'drop table tags');
  await api.rollbackMigrations(p.ref, { gte: history[1].version });
  assert.deepEqual((await api.listMigrationHistory(p.ref)).data.map((m) => m.name), ['add_tags']);

  const types = await api.generateTypescriptTypes(p.ref, { included_schemas: 'public' });
  assert.match(types.data.types, /tags: \{\s*Row: \{\s*id: number\s*note_id: number \| null/);
  const security = await api.getSecurityAdvisors(p.ref, {});
  assert.ok(security.data.lints.some((l) => l.name === 'rls_disabled_in_public' && l.metadata?.name === 'notes'), JSON.stringify(security.data));
  const performance = await api.getPerformanceAdvisors(p.ref);
  assert.ok(Array.isArray(performance.data.lints));
  assert.equal((await api.updateDatabasePassword(p.ref, { password: 'another long password' })).data.message, 'Database password updated');
});

test('database settings: postgres config, pooler, SSL, read-only, network rules and bans', async () => {
  const cfg = await api.getPostgresConfig(p.ref);
  assert.equal(typeof cfg.data, 'object');
  const put = await api.updatePostgresConfig(p.ref, { statement_timeout: '30s' });
  assert.equal(put.data.statement_timeout, '30s');
  assert.equal((await api.getPostgresConfig(p.ref)).data.statement_timeout, '30s');
  const pooler = await api.getPoolerConfig(p.ref);
  assert.ok(pooler.data.length >= 1);
  assert.match(pooler.data[0].connection_string, /^postgres(ql)?:\/\//);
  const pgbouncer = await api.getProjectPgbouncerConfig(p.ref);
  assert.deepEqual(pgbouncer.data, { pool_mode: 'session', connection_string: pooler.data[0].connection_string });
  // Loam has no pooler of its own: a pool size is refused, null (Supabase's "use the default") is accepted.
  assert.equal((await api.updatePoolerConfig(p.ref, { default_pool_size: null })).status, 200);
  await assert.rejects(api.updatePoolerConfig(p.ref, { default_pool_size: 30 }), (e: { status?: number }) => e.status === 400);
  assert.equal(typeof (await api.getSslEnforcementConfig(p.ref)).data.currentConfig.database, 'boolean');
  const ssl = await api.updateSslEnforcementConfig(p.ref, { requestedConfig: { database: true } });
  assert.deepEqual(ssl.data.currentConfig, { database: true });
  assert.equal((await api.getReadonlyModeStatus(p.ref)).data.enabled, false);
  assert.equal((await api.disableReadonlyModeTemporarily(p.ref)).status, 201);
  const restrictions = await api.getNetworkRestrictions(p.ref);
  assert.equal(restrictions.data.entitlement, 'allowed');
  await api.updateNetworkRestrictions(p.ref, { dbAllowedCidrs: ['0.0.0.0/0'], dbAllowedCidrsV6: ['::/0'] });
  const patched = await api.patchNetworkRestrictions(p.ref, { add: { dbAllowedCidrs: ['10.0.0.0/8'] } });
  assert.ok(patched.data.config.dbAllowedCidrs?.some((c) => c.address === '10.0.0.0/8'), JSON.stringify(patched.data));
  assert.deepEqual((await api.listAllNetworkBans(p.ref)).data, { banned_ipv4_addresses: [] });
  assert.deepEqual((await api.listAllNetworkBansEnriched(p.ref)).data, { banned_ipv4_addresses: [] });
  assert.equal((await api.deleteNetworkBans(p.ref, { ipv4_addresses: ['192.0.2.1'] })).status, 200);
  assert.deepEqual((await api.listProjectAddons(p.ref)).data, { selected_addons: [], available_addons: [] });
});

test('API keys: legacy and new, signing keys, third-party auth', async () => {
  const keys = await api.getProjectApiKeys(p.ref, { reveal: true });
  assert.ok(keys.data.some((k) => k.name === 'anon' && k.api_key === p.anonKey));
  const made = await api.createProjectApiKey(p.ref, { type: 'secret', name: 'server_key' }, { reveal: true });
  assert.match(made.data.api_key ?? '', /^sb_secret_/);
  const id = made.data.id!;
  assert.equal((await api.getProjectApiKey(p.ref, id, { reveal: false })).data.name, 'server_key');
  assert.equal((await api.updateProjectApiKey(p.ref, id, { description: 'backend' }, {})).data.description, 'backend');
  assert.equal((await api.deleteProjectApiKey(p.ref, id, {})).data.id, id);
  assert.equal((await api.getProjectLegacyApiKeys(p.ref)).data.enabled, true);
  assert.equal((await api.updateProjectLegacyApiKeys(p.ref, { enabled: true })).data.enabled, true);

  const legacy = await api.createLegacySigningKey(p.ref);
  assert.equal(legacy.data.algorithm, 'HS256');
  assert.equal((await api.getLegacySigningKey(p.ref)).data.id, legacy.data.id);
  const standby = await api.createProjectSigningKey(p.ref, { algorithm: 'ES256', status: 'standby' });
  assert.equal(standby.data.status, 'standby');
  assert.ok((await api.getProjectSigningKeys(p.ref)).data.keys.some((k) => k.id === standby.data.id));
  assert.equal((await api.getProjectSigningKey(p.ref, standby.data.id)).data.algorithm, 'ES256');
  assert.equal((await api.updateProjectSigningKey(p.ref, standby.data.id, { status: 'in_use' })).data.status, 'in_use');
  const rs = await api.createProjectSigningKey(p.ref, { algorithm: 'RS256', status: 'standby' });
  assert.equal((await api.removeProjectSigningKey(p.ref, rs.data.id)).data.id, rs.data.id);

  // A JWKS URL on a loopback name is stored but never fetched (the operator has not allowed private issuers).
  const tpa = await api.createProjectTpaIntegration(p.ref, { jwks_url: 'http://localhost:9/jwks.json' });
  assert.equal(tpa.status, 201);
  assert.ok((await api.listProjectTpaIntegrations(p.ref)).data.some((t) => t.id === tpa.data.id));
  assert.equal((await api.getProjectTpaIntegration(p.ref, tpa.data.id)).data.jwks_url, 'http://localhost:9/jwks.json');
  assert.equal((await api.deleteProjectTpaIntegration(p.ref, tpa.data.id)).data.id, tpa.data.id);
});

test('service configs: auth, PostgREST, realtime, storage', async () => {
  const auth = await api.getAuthServiceConfig(p.ref);
  assert.equal(typeof auth.data.site_url, 'string');
  assert.equal((await api.updateAuthServiceConfig(p.ref, { site_url: 'https://app.example.com' })).data.site_url, 'https://app.example.com');
  assert.match((await api.getPostgrestServiceConfig(p.ref)).data.db_schema, /\bpublic\b/);
  assert.equal((await api.updatePostgrestServiceConfig(p.ref, { max_rows: 500 })).data.max_rows, 500);
  assert.equal(typeof (await api.getRealtimeConfig(p.ref)).data.max_concurrent_users, 'number');
  await api.updateRealtimeConfig(p.ref, { max_concurrent_users: 300 });
  assert.equal((await api.getRealtimeConfig(p.ref)).data.max_concurrent_users, 300);
  assert.equal(typeof (await api.getStorageConfig(p.ref)).data.fileSizeLimit, 'number');
  await api.updateStorageConfig(p.ref, { fileSizeLimit: 2_000_000 });
  assert.equal((await api.getStorageConfig(p.ref)).data.fileSizeLimit, 2_000_000);
  assert.deepEqual((await api.listAllBuckets(p.ref)).data, []);
});

test('edge functions and secrets', async () => {
  const created = await api.createAFunction(p.ref, { slug: 'one', name: 'one', body: 'Deno.serve(() => new Response("one"));', verify_jwt: false }, {});
  assert.equal(created.status, 201);
  assert.equal(created.data.slug, 'one');
  const deployed = await api.deployAFunction(p.ref, {
    file: [new File(['Deno.serve(() => new Response("two"));'], 'index.ts')] as unknown as string[],
    metadata: { name: 'two', entrypoint_path: 'index.ts', verify_jwt: false },
  }, { slug: 'two' });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.data));
  assert.equal(deployed.data.slug, 'two');
  assert.deepEqual((await api.listAllFunctions(p.ref)).data.map((f) => f.slug).sort(), ['one', 'two']);
  assert.equal((await api.getAFunction(p.ref, 'two')).data.version, 1);
  const body = await api.getAFunctionBody(p.ref, 'two');
  assert.equal(body.status, 200);
  assert.equal((await api.updateAFunction(p.ref, 'one', { name: 'One' }, {})).data.name, 'One');
  const bulk = await api.bulkUpdateFunctions(p.ref, [{ id: created.data.id, slug: 'one', name: 'One!', status: 'ACTIVE', version: created.data.version }]);
  assert.equal(bulk.data.functions[0].name, 'One!');
  await api.deleteAFunction(p.ref, 'one');
  assert.deepEqual((await api.listAllFunctions(p.ref)).data.map((f) => f.slug), ['two']);

  await api.bulkCreateSecrets(p.ref, [{ name: 'STRIPE_KEY', value: 'sk_test_1' }]);
  assert.ok((await api.listAllSecrets(p.ref)).data.some((s) => s.name === 'STRIPE_KEY'));
  await api.bulkDeleteSecrets(p.ref, ['STRIPE_KEY']);
  assert.ok(!(await api.listAllSecrets(p.ref)).data.some((s) => s.name === 'STRIPE_KEY'));
});

test('logs, usage and snippets', async () => {
  await http('GET', `/project/${p.ref}/rest/v1/notes`, { headers: { apikey: p.anonKey } });
  const end = new Date(Date.now() + 60_000).toISOString();
  const start = new Date(Date.now() - 3600_000).toISOString();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const logs = await api.getProjectLogs(p.ref, { sql: 'select id, timestamp, event_message from edge_logs order by timestamp desc limit 10', iso_timestamp_start: start, iso_timestamp_end: end });
    if ((logs.data.result as { event_message: string }[] | undefined)?.some((r) => /rest\/v1\/notes/.test(r.event_message))) break;
    assert.ok(Date.now() < deadline, JSON.stringify(logs.data));
    await new Promise((r) => setTimeout(r, 250));
  }
  const counts = await api.getProjectUsageApiCount(p.ref, { interval: '1day' });
  assert.ok(Array.isArray(counts.data.result));
  const requests = await api.getProjectUsageRequestCount(p.ref);
  assert.ok((requests.data.result as { count: number }[])[0].count >= 1);

  const snippet = await http('POST', '/v1/snippets', { token: p.owner.token, body: { project_ref: p.ref, name: 'Notes', sql: 'select * from notes' } });
  const list = await api.listAllSnippets({ project_ref: p.ref });
  assert.deepEqual(list.data.data.map((s) => s.name), ['Notes']);
  assert.equal((await api.getASnippet(snippet.body.id)).data.content.sql, 'select * from notes');
});

test('branches, SSO providers, backups', async () => {
  // A project of its own: this file's project has tables made outside its migrations, which a branch cannot build.
  const p = await createProject();
  const api = client(p.owner.token, (await loam()).url);
  const made = await api.createABranch(p.ref, { branch_name: 'mgmt-js' });
  assert.equal(made.status, 201, JSON.stringify(made.data));
  const id = made.data.id;
  let branch = (await api.getABranch(p.ref, 'mgmt-js')).data;
  for (let i = 0; i < 300 && branch.status !== 'MIGRATIONS_PASSED'; i++) {
    assert.notEqual(branch.status, 'MIGRATIONS_FAILED', JSON.stringify(branch));
    await new Promise((r) => setTimeout(r, 100));
    branch = (await api.getABranch(p.ref, 'mgmt-js')).data;
  }
  assert.equal(branch.status, 'MIGRATIONS_PASSED');
  assert.ok((await api.listAllBranches(p.ref)).data.some((b) => b.id === id));
  assert.equal((await api.getABranchConfig(id)).data.ref, branch.project_ref);
  assert.equal((await api.updateABranchConfig(id, { persistent: true })).data.persistent, true);
  assert.equal((await api.pushABranch(id, {})).status, 201);
  assert.equal((await api.mergeABranch(id, {})).status, 201);
  assert.equal((await api.diffABranch(id, {})).status, 200);
  assert.equal((await api.resetABranch(id, {})).status, 201);
  assert.equal((await api.restoreABranch(id)).status, 201); // a serving branch: nothing to do
  assert.equal((await api.deleteABranch(id)).status, 200);
  assert.equal((await api.disablePreviewBranching(p.ref)).status, 200);

  await http('PATCH', `/v1/projects/${p.ref}/config/auth`, { token: p.owner.token, body: { saml_enabled: true } });
  const { startIdp } = await import('../auth/saml-idp.ts');
  const idp = await startIdp();
  const sso = await api.createASsoProvider(p.ref, { type: 'saml', metadata_xml: idp.metadata, domains: ['mgmt-js.example.com'] });
  assert.equal(sso.status, 201, JSON.stringify(sso.data));
  assert.ok((await api.listAllSsoProvider(p.ref)).data.items.some((x) => x.id === sso.data.id));
  assert.equal((await api.getASsoProvider(p.ref, sso.data.id)).data.id, sso.data.id);
  assert.deepEqual((await api.updateASsoProvider(p.ref, sso.data.id, { domains: ['other.example.com'] })).data.domains?.map((d) => d.domain), ['other.example.com']);
  assert.equal((await api.deleteASsoProvider(p.ref, sso.data.id)).status, 200);

  assert.ok(Array.isArray((await api.listAllBackups(p.ref)).data.backups));
  // Point-in-time restore is refused with its reason where the server cannot do it (server/README.md).
  for (const call of [() => api.restorePitrBackup(p.ref, { recovery_time_target_unix: 1 }),
    () => api.createRestorePoint(p.ref, { name: 'before' })]) {
    await assert.rejects(call(), (e: { status?: number }) => e.status === 501);
  }
  await assert.rejects(api.undo(p.ref, { name: 'before' }), (e: { status?: number }) => e.status === 404); // no such point
  await assert.rejects(api.getRestorePoint(p.ref, {}), (e: { status?: number }) => e.status === 404); // none was ever made
});

test('another account\'s token reaches none of the project through the client', async () => {
  const other = await createProject();
  const theirs = new SupabaseManagementAPI({ accessToken: other.owner.token, baseUrl: (await loam()).url });
  for (const call of [() => theirs.getProject(p.ref), () => theirs.runAQuery(p.ref, { query: 'select 1' }), () => theirs.listMigrationHistory(p.ref),
    () => theirs.readOnlyQuery(p.ref, { query: 'select 1' }), () => theirs.getDatabaseMetadata(p.ref), () => theirs.getProjectPgbouncerConfig(p.ref), () => theirs.getAllProjectsForOrganization(p.owner.org, {}),
    () => theirs.getProjectApiKeys(p.ref, { reveal: true }), () => theirs.generateTypescriptTypes(p.ref, {}), () => theirs.getPostgresConfig(p.ref)]) {
    await assert.rejects(call(), (e: { status?: number }) => e.status === 404);
  }
  assert.deepEqual(await sql(p, `select count(*)::int as n from pg_tables where tablename = 'notes'`), [{ n: 1 }]);
});

test('every method whose operation Loam serves was called', () => {
  const src = fs.readFileSync(path.resolve('node_modules/supabase-management-js/dist/index.mjs'), 'utf8');
  const cls = src.slice(src.indexOf('var SupabaseManagementAPI = class {'));
  const route = new Map<string, string>();
  for (const m of src.matchAll(/var getV1(\w+)Url = \([^)]*\) => \{([\s\S]*?)\n\};/g)) {
    const url = /`(\/v1[^`?]*)/.exec(m[2])?.[1];
    if (url) route.set(`v1${m[1]}`, url.replace(/\$\{[^}]*\}/g, '{}'));
  }
  const verb = new Map<string, string>();
  for (const m of src.matchAll(/var (v1\w+) = async \([^)]*\) => \{[\s\S]*?method: "(\w+)"/g)) verb.set(m[1], m[2]);
  const served = new Set<string>();
  for (const [p, methods] of Object.entries(managementSpec.paths)) for (const m of Object.keys(methods)) served.add(`${m.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{}')}`);
  const methods = [...cls.matchAll(/\n {2}async (\w+)\([^)]*\) \{\n {4}const result = await (v1\w+)\(/g)];
  assert.ok(methods.length > 150, `the client's methods were read (${methods.length})`);
  const expected = methods.filter((m) => served.has(`${verb.get(m[2])} ${route.get(m[2])}`)).map((m) => m[1]).sort();
  assert.deepEqual(expected.filter((m) => !called.has(m)), [], 'served but not called');
  assert.ok(expected.length >= 80, `${expected.length} methods`);
});
