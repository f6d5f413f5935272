// Provisioning jobs: running one twice does no harm; a failing one ends in INIT_FAILED with a readable reason
// and is retried by restore; `loam migrate` brings project databases up to the current template.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { migrateAllProjects } from '../../db/src/migrate-projects.ts';
import { templateVersion } from '../../db/src/migrate.ts';
import { scramVerifier } from '../../db/src/scram.ts';
import { adminClient, createProject, http, ownerClient, sql, waitForStatus } from '../helpers/platform.ts';

const letters = (n: number) => Array.from(crypto.randomBytes(n), (b) => String.fromCharCode(97 + (b % 26))).join('');

async function waitForJobs(ref: string, timeoutMs = 30_000) {
  const db = await adminClient();
  try {
    const until = Date.now() + timeoutMs;
    while ((await db.query(`select 1 from graphile_worker.jobs where queue_name = $1`, [`project:${ref}`])).rowCount) {
      if (Date.now() > until) throw new Error(`jobs of ${ref} did not finish`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await db.end();
  }
}

async function secretOf(ref: string): Promise<string> {
  const db = await adminClient();
  const { rows } = await db.query(
    'select s.jwt_secret from platform_private.project_secrets s join platform.projects p on p.id = s.project_id where p.ref = $1', [ref]);
  await db.end();
  return rows[0].jwt_secret;
}

test('a provisioning job that runs again — after success, or after an interruption — does no harm', async () => {
  const p = await createProject();
  await sql(p, `create table kept (v text); insert into kept values ('data')`);
  const secret = await secretOf(p.ref);
  const db = await adminClient();
  const { rows: [{ id }] } = await db.query('select id from platform.projects where ref = $1', [p.ref]);

  // Queued again for a healthy project: it sees the project is no longer COMING_UP and does nothing.
  await db.query(`select graphile_worker.add_job('project__provision', json_build_object('project_id', $1::bigint), queue_name := $2)`, [id, `project:${p.ref}`]);
  await waitForJobs(p.ref);
  assert.equal((await http('GET', `/v1/projects/${p.ref}`, { token: p.owner.token })).body.status, 'ACTIVE_HEALTHY');

  // As if the worker had died after creating the database but before recording it: every step runs again
  // against what already exists.
  await db.query(`update platform.projects set status = 'COMING_UP' where id = $1`, [id]);
  await db.query(`select graphile_worker.add_job('project__provision', json_build_object('project_id', $1::bigint), queue_name := $2)`, [id, `project:${p.ref}`]);
  await waitForStatus(p.owner.token, p.ref, 'ACTIVE_HEALTHY');
  await waitForJobs(p.ref);
  const { rows: failed } = await db.query(`select last_error from graphile_worker.jobs where queue_name = $1`, [`project:${p.ref}`]);
  await db.end();
  assert.deepEqual(failed, []);
  assert.deepEqual(await sql(p, 'select v from kept'), [{ v: 'data' }]);
  assert.equal(await secretOf(p.ref), secret, 'keys are not regenerated');
  const client = await ownerClient(p);
  assert.deepEqual((await client.query('select v from kept')).rows, [{ v: 'data' }]);
  await client.end();
});

test('a failing provisioning ends in INIT_FAILED with a readable reason; restore retries it', async () => {
  const a = (await createProject()).owner;
  const ref = letters(20);
  const db = await adminClient();
  // A database that already has the project's name but is not a clone of the template makes provisioning fail.
  await db.query(`create database ${ref}`);
  const { rows: [{ id }] } = await db.query(`insert into platform.projects (ref, organization_id, name, region)
      select $1, o.id, 'broken', 'local' from platform.organizations o where o.slug = $2 returning id`, [ref, a.org]);
  await db.query(`insert into platform_private.project_secrets (project_id, db_pass_verifier, mgmt_password) values ($1, $2, $3)`,
    [id, scramVerifier('long enough'), crypto.randomBytes(12).toString('hex')]);
  await db.query(`select platform_private.queue_project_job(p, 'project__provision') from platform.projects p where p.id = $1`, [id]);

  const failed = await waitForStatus(a.token, ref, 'INIT_FAILED', 60_000);
  assert.match(failed.status_reason, /(schema "auth"|relation "_loam.migrations") does not exist/);
  // Any key will do: the project gate answers before the key is checked.
  const plane = await http('GET', `/project/${ref}/rest/v1/`, { headers: { apikey: 'any' } });
  assert.equal(plane.status, 503);
  assert.equal(plane.body.message, 'project is not available (status INIT_FAILED)');

  await db.query(`drop database ${ref} with (force)`);
  await db.end();
  const retry = await http('POST', `/v1/projects/${ref}/restore`, { token: a.token });
  assert.equal(retry.status, 200);
  const healthy = await waitForStatus(a.token, ref, 'ACTIVE_HEALTHY');
  assert.equal(healthy.status_reason, undefined);
  const client = await ownerClient({ ref, dbPass: 'long enough' } as never);
  assert.deepEqual((await client.query('select current_database() as d')).rows, [{ d: ref }]);
  await client.end();
});

test('migrateAllProjects brings projects that are behind to the current template version', async () => {
  const p = await createProject();
  const q = await createProject(p.owner, 'second');
  const db = await adminClient();
  await db.query(`update platform.projects set template_version = 0 where ref = any($1)`, [[p.ref, q.ref]]);
  const lines: string[] = [];
  const n = await migrateAllProjects((l) => lines.push(l));
  assert.ok(n >= 2);
  const current = templateVersion();
  for (const ref of [p.ref, q.ref]) {
    assert.ok(lines.includes(`project ${ref} is at template version ${current}`), lines.join('\n'));
    const { rows } = await db.query('select template_version from platform.projects where ref = $1', [ref]);
    assert.equal(rows[0].template_version, current);
  }
  await db.end();
  // The database itself records every template migration.
  const projectDb = await adminClient(p.ref);
  const { rows: versions } = await projectDb.query('select max(version)::int as v from _loam.migrations');
  await projectDb.end();
  assert.deepEqual(versions, [{ v: current }]);
  // Nothing is behind any more.
  assert.equal(await migrateAllProjects(() => {}), 0);
});
