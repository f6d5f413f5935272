// Who may reach a project's database: allowed networks, bans and TLS enforcement, enforced on the owner's psql
// login (the managed pg_hba.conf section of the test run's embedded server) and on the SQL endpoint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { applyHbaRules, HBA_BEGIN, HBA_END, withManagedRules } from '../../db/src/hba.ts';
import { adminClient, createProject, http, loam, signup, type Project } from '../helpers/platform.ts';

const restrictions = (p: Project) => `/v1/projects/${p.ref}/network-restrictions`;

/** Whether the owner can log in (over TLS or not); the server reloads pg_hba.conf a moment after the API answers. */
async function canLogin(p: Project, ssl = false): Promise<true | string> {
  const u = new URL((await loam()).databaseUrl);
  const client = new pg.Client({ host: '127.0.0.1', port: Number(u.port), user: p.ref, password: p.dbPass, database: p.ref,
    ssl: ssl ? { rejectUnauthorized: false } : false });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    await client.end();
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}

async function eventually(check: () => Promise<boolean>, what: string) {
  const until = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const refused = async (p: Project, ssl = false) => (await canLogin(p, ssl)) !== true;
const sqlEndpoint = (p: Project) => http('POST', `/v1/projects/${p.ref}/database/query`, { token: p.owner.token, body: { query: 'select 1 as one' } });


// Enforcement on psql logins goes through the embedded server's managed pg_hba.conf section (and its TLS); a
// DATABASE_URL server has neither, and answers status "stored".
const embeddedOnly = !process.env.LOAM_TEST_EMBEDDED_POSTGRES ? 'psql logins are enforced through the embedded server\'s pg_hba.conf and TLS' : false;

test('network restrictions: psql and the SQL endpoint only from allowed networks; other projects unaffected', { skip: embeddedOnly }, async () => {
  const p = await createProject();
  const other = await createProject();
  const token = p.owner.token;
  assert.deepEqual((await http('GET', restrictions(p), { token })).body,
    { entitlement: 'allowed', config: { dbAllowedCidrs: ['0.0.0.0/0'], dbAllowedCidrsV6: ['::/0'] }, status: 'applied' });

  const applied = await http('POST', `${restrictions(p)}/apply`, { token, body: { dbAllowedCidrs: ['10.1.0.0/16'], dbAllowedCidrsV6: [] } });
  assert.equal(applied.status, 201, JSON.stringify(applied.body));
  assert.deepEqual(applied.body.config, { dbAllowedCidrs: ['10.1.0.0/16'], dbAllowedCidrsV6: [] });
  assert.deepEqual(applied.body.old_config, { dbAllowedCidrs: ['0.0.0.0/0'], dbAllowedCidrsV6: ['::/0'] });
  assert.equal(applied.body.status, 'applied');
  assert.ok(applied.body.applied_at >= applied.body.updated_at);
  await eventually(() => refused(p), 'the owner\'s login is refused from 127.0.0.1');
  assert.match(String(await canLogin(p)), /pg_hba\.conf rejects connection/);
  const blocked = await sqlEndpoint(p);
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body.code, 'address_not_allowed');
  assert.equal(await canLogin(other), true, 'another project\'s login is not touched');
  assert.equal((await sqlEndpoint(other)).status, 201);

  const patched = await http('PATCH', restrictions(p), { token, body: { add: { dbAllowedCidrs: ['127.0.0.1/32'], dbAllowedCidrsV6: ['::1/128'] }, remove: { dbAllowedCidrs: ['10.1.0.0/16'] } } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(patched.body.config, { dbAllowedCidrs: [{ address: '127.0.0.1/32', type: 'v4' }, { address: '::1/128', type: 'v6' }] });
  assert.equal(patched.body.status, 'applied');
  await eventually(async () => (await canLogin(p)) === true, 'the owner logs in from 127.0.0.1');
  assert.equal((await sqlEndpoint(p)).status, 201);
  assert.deepEqual((await http('GET', restrictions(p), { token })).body.config, { dbAllowedCidrs: ['127.0.0.1/32'], dbAllowedCidrsV6: ['::1/128'] });

  for (const [body, message] of [
    [{ dbAllowedCidrs: ['not-a-network'] }, /"not-a-network" is not a CIDR block/],
    [{ dbAllowedCidrs: ['::/0'] }, /"::\/0" is not an IPv4 CIDR block/],
    [{ dbAllowedCidrsV6: ['10.0.0.0/8'] }, /is not an IPv6 CIDR block/],
    [{ dbAllowedCidrs: '10.0.0.0/8' }, /dbAllowedCidrs must be an array of strings/],
  ] as const) {
    const res = await http('POST', `${restrictions(p)}/apply`, { token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.message, message);
  }
  // Back to everyone.
  await http('POST', `${restrictions(p)}/apply`, { token, body: { dbAllowedCidrs: ['0.0.0.0/0'], dbAllowedCidrsV6: ['::/0'] } });
  const admin = await adminClient();
  const { rows } = await admin.query(`select line from platform_private.hba_rules((select database_server_id from platform.projects where ref = $1)) line where line like $2`, [p.ref, `%${p.ref}%`]);
  await admin.end();
  assert.deepEqual(rows, []);
});

test('ssl enforcement: logins without TLS are refused while it is on; TLS logins work', { skip: embeddedOnly }, async () => {
  const p = await createProject();
  const token = p.owner.token;
  const url = `/v1/projects/${p.ref}/ssl-enforcement`;
  assert.deepEqual((await http('GET', url, { token })).body, { currentConfig: { database: false }, appliedSuccessfully: true });
  const on = await http('PUT', url, { token, body: { requestedConfig: { database: true } } });
  assert.deepEqual(on.body, { currentConfig: { database: true }, appliedSuccessfully: true });
  assert.deepEqual((await http('GET', url, { token })).body, on.body);
  await eventually(() => refused(p), 'a login without TLS is refused');
  assert.match(String(await canLogin(p)), /no encryption/);
  assert.equal(await canLogin(p, true), true);
  const off = await http('PUT', url, { token, body: { requestedConfig: { database: false } } });
  assert.deepEqual(off.body, { currentConfig: { database: false }, appliedSuccessfully: true });
  await eventually(async () => (await canLogin(p)) === true, 'a login without TLS works again');
  assert.equal((await http('PUT', url, { token, body: { requestedConfig: {} } })).status, 400);
  assert.equal((await http('PUT', url, { token, body: {} })).status, 400);
});

test('network bans: a banned address cannot log in or use the SQL endpoint until the ban is lifted', { skip: embeddedOnly }, async () => {
  const p = await createProject();
  const token = p.owner.token;
  const admin = await adminClient();
  await admin.query(`select platform_private.ban_address($1, '127.0.0.1', 'too many failed logins'), platform_private.ban_address($1, '::1')`, [p.ref]);
  const [{ database_server_id: server }] = (await admin.query('select database_server_id from platform.projects where ref = $1', [p.ref])).rows;
  await admin.end();
  assert.equal(await applyHbaRules(server), true);
  const list = await http('POST', `/v1/projects/${p.ref}/network-bans/retrieve`, { token });
  assert.equal(list.status, 201);
  assert.deepEqual(list.body, { banned_ipv4_addresses: ['127.0.0.1', '::1'] });
  const enriched = await http('POST', `/v1/projects/${p.ref}/network-bans/retrieve/enriched`, { token });
  assert.deepEqual(enriched.body.banned_ipv4_addresses[0], { banned_address: '127.0.0.1', identifier: 'too many failed logins', type: 'postgres' });
  await eventually(() => refused(p), 'a banned address cannot log in');
  assert.equal((await sqlEndpoint(p)).status, 403);

  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/network-bans`, { token, body: { ipv4_addresses: ['nope'] } })).status, 400);
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}/network-bans`, { token, body: {} })).status, 400);
  const lifted = await http('DELETE', `/v1/projects/${p.ref}/network-bans`, { token, body: { ipv4_addresses: ['127.0.0.1', '::1'] } });
  assert.equal(lifted.status, 200);
  assert.deepEqual((await http('POST', `/v1/projects/${p.ref}/network-bans/retrieve`, { token })).body, { banned_ipv4_addresses: [] });
  await eventually(async () => (await canLogin(p)) === true, 'the lifted address logs in');
  assert.equal((await sqlEndpoint(p)).status, 201);
});

test('attacker: another account can neither read nor loosen a project\'s network rules, nor lock it out', async () => {
  const victim = await createProject();
  await http('POST', `${restrictions(victim)}/apply`, { token: victim.owner.token, body: { dbAllowedCidrs: ['127.0.0.1/32'], dbAllowedCidrsV6: ['::1/128'] } });
  const attacker = await signup();
  const token = attacker.token;
  const calls: [string, string, unknown?][] = [
    ['GET', restrictions(victim)], ['PATCH', restrictions(victim), { add: { dbAllowedCidrs: ['0.0.0.0/0'] } }],
    ['POST', `${restrictions(victim)}/apply`, { dbAllowedCidrs: [] }],
    ['GET', `/v1/projects/${victim.ref}/ssl-enforcement`], ['PUT', `/v1/projects/${victim.ref}/ssl-enforcement`, { requestedConfig: { database: true } }],
    ['POST', `/v1/projects/${victim.ref}/network-bans/retrieve`], ['POST', `/v1/projects/${victim.ref}/network-bans/retrieve/enriched`],
    ['DELETE', `/v1/projects/${victim.ref}/network-bans`, { ipv4_addresses: ['127.0.0.1'] }],
  ];
  for (const [method, path, body] of calls) {
    const res = await http(method, path, { token, body });
    assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, 'project_not_found');
    assert.equal((await http(method, path, { body })).status, 401);
  }
  const after = (await http('GET', restrictions(victim), { token: victim.owner.token })).body;
  assert.deepEqual(after.config, { dbAllowedCidrs: ['127.0.0.1/32'], dbAllowedCidrsV6: ['::1/128'] });
  assert.equal((await http('GET', `/v1/projects/${victim.ref}/ssl-enforcement`, { token: victim.owner.token })).body.currentConfig.database, false);
  assert.equal(await canLogin(victim), true);
  // A tenant's own rules cannot reach other roles: each line names the project's login and no other.
  const admin = await adminClient();
  const { rows } = await admin.query('select line from platform_private.hba_rules((select database_server_id from platform.projects where ref = $1)) line', [victim.ref]);
  await admin.end();
  for (const { line } of rows) assert.match(line, /^host(nossl)? all "[a-z]{20}" \S+ (reject|scram-sha-256)$/);
});

test('the managed section: rewritten between its markers only; a file without them is not touched', () => {
  const file = `# top\n${HBA_BEGIN}\nhost all "old" all reject\n${HBA_END}\nhost all all 127.0.0.1/32 scram-sha-256\n`;
  assert.equal(withManagedRules(file, ['host all "a" all reject']),
    `# top\n${HBA_BEGIN}\nhost all "a" all reject\n${HBA_END}\nhost all all 127.0.0.1/32 scram-sha-256\n`);
  assert.equal(withManagedRules(file, []), `# top\n${HBA_BEGIN}\n${HBA_END}\nhost all all 127.0.0.1/32 scram-sha-256\n`);
  assert.equal(withManagedRules('host all all all trust\n', ['x']), undefined);
  assert.equal(withManagedRules(`${HBA_END}\n${HBA_BEGIN}\n`, ['x']), undefined);
});

test('many projects changing their rules at once: every change answers, none deadlocks (no 5xx)', { skip: embeddedOnly }, async () => {
  const projects = await Promise.all(Array.from({ length: 4 }, () => createProject()));
  const bodies = [{ add: {}, remove: {} }, { add: { dbAllowedCidrs: ['10.0.0.0/8'] } }, { remove: { dbAllowedCidrs: ['10.0.0.0/8'] } }];
  const answers = await Promise.all(projects.flatMap((p) => Array.from({ length: 12 }, (_, i) =>
    http('PATCH', `/v1/projects/${p.ref}/network-restrictions`, { token: p.owner.token, body: bodies[i % bodies.length] }))));
  assert.deepEqual(answers.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body)}`), []);
});
