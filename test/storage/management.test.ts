// Storage through the Management API: the bucket list, the storage settings (file size limit, image
// transformation) and their effect on the data plane, a deleted project's files removed from disk, and the sweep
// of bytes no row refers to.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { adminClient, createProject, http, signup } from '../helpers/platform.ts';
import sweep from '../../worker/src/tasks/storage__sweep.ts';
import { client, errorOf, storageFetch } from './helpers.ts';

test('GET /v1/projects/{ref}/storage/buckets lists every bucket, whatever the bucket policies', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('b-one', { public: true });
  await client(p).storage.createBucket('a-two');
  const res = await http('GET', `/v1/projects/${p.ref}/storage/buckets`, { token: p.owner.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.map((b: { id: string; name: string; public: boolean }) => [b.id, b.name, b.public]), [['a-two', 'a-two', false], ['b-one', 'b-one', true]]);
  for (const k of ['owner', 'created_at', 'updated_at']) assert.ok(k in res.body[0], k);
  const stranger = await signup();
  assert.equal((await http('GET', `/v1/projects/${p.ref}/storage/buckets`, { token: stranger.token })).status, 404);
  assert.equal((await http('GET', `/v1/projects/${p.ref}/storage/buckets`)).status, 401);
});

test('storage config: fileSizeLimit and image transformation, enforced by the data plane', async () => {
  const p = await createProject();
  const path_ = `/v1/projects/${p.ref}/config/storage`;
  const initial = await http('GET', path_, { token: p.owner.token });
  assert.equal(initial.status, 200);
  assert.equal(initial.body.fileSizeLimit, 52428800);
  assert.equal(initial.body.features.imageTransformation.enabled, true);

  const patched = await http('PATCH', path_, { token: p.owner.token, body: { fileSizeLimit: 1000, features: { imageTransformation: { enabled: false } } } });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.fileSizeLimit, 1000);
  assert.deepEqual((await http('GET', path_, { token: p.owner.token })).body.features.imageTransformation, { enabled: false });

  const s = client(p).storage;
  await s.createBucket('b');
  const tooBig = await s.from('b').upload('big.bin', Buffer.alloc(1001), { contentType: 'application/octet-stream' });
  assert.equal((tooBig.error as unknown as { statusCode: string }).statusCode, '413');
  assert.equal((await s.from('b').upload('ok.bin', Buffer.alloc(1000), { contentType: 'application/octet-stream' })).error, null);
  const png = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#000' } }).png().toBuffer();
  await s.from('b').upload('p.png', png, { contentType: 'image/png', upsert: true });
  const off = await errorOf(await storageFetch(p, '/render/image/authenticated/b/p.png?width=5'));
  assert.deepEqual([off.statusCode, off.code, off.message], ['409', 'FeatureNotEnabled', 'The feature image_transformation is not enabled for this resource']);
  // Signed URLs made while rendering is off are plain object URLs.
  assert.match((await s.from('b').createSignedUrl('p.png', 60, { transform: { width: 5 } })).data!.signedUrl, /\/object\/sign\//);

  for (const [body, message] of [
    [{ fileSizeLimit: 0 }, /fileSizeLimit must be between 1 and/],
    [{ fileSizeLimit: 10 ** 15 }, /fileSizeLimit must be between 1 and/],
    [{ fileSizeLimit: 'big' }, /fileSizeLimit must be an integer/],
    [{ features: { imageTransformation: { enabled: 'yes' } } }, /enabled must be a boolean/],
  ] as const) {
    const bad = await http('PATCH', path_, { token: p.owner.token, body });
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.match(bad.body.message, message);
  }
  const stranger = await signup();
  assert.equal((await http('PATCH', path_, { token: stranger.token, body: { fileSizeLimit: 10 } })).status, 404);
  assert.equal((await http('GET', path_, { token: stranger.token })).status, 404);
});

test('deleting a project removes its files', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('b');
  await client(p).storage.from('b').upload('x.txt', Buffer.from('x'), { contentType: 'text/plain' });
  const dir = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref);
  assert.equal(fs.readdirSync(path.join(dir, 'objects')).length, 1);
  assert.equal((await http('DELETE', `/v1/projects/${p.ref}`, { token: p.owner.token })).status, 200);
  const until = Date.now() + 30_000;
  while (fs.existsSync(dir) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.equal(fs.existsSync(dir), false);
});

test('the sweep job removes old unreferenced bytes and their variants, and nothing else', async () => {
  const p = await createProject();
  await client(p).storage.createBucket('b');
  await client(p).storage.from('b').upload('keep.txt', Buffer.from('keep'), { contentType: 'text/plain' });
  const root = path.join(process.env.LOAM_DATA_DIR!, 'storage', p.ref);
  const [kept] = fs.readdirSync(path.join(root, 'objects'));
  const old = crypto.randomUUID(), fresh = crypto.randomUUID();
  fs.writeFileSync(path.join(root, 'objects', old), 'orphan');
  fs.writeFileSync(path.join(root, 'objects', fresh), 'maybe an upload in flight');
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(path.join(root, 'objects', old), twoHoursAgo, twoHoursAgo);
  fs.mkdirSync(path.join(root, 'renders', old), { recursive: true });
  fs.writeFileSync(path.join(root, 'renders', old, 'variant'), 'v');

  // Queued from SQL, once per project, an hour out (so this test runs the task itself).
  const admin = await adminClient();
  try {
    for (let i = 0; i < 2; i++) await admin.query('select platform_private.queue_storage_sweep($1)', [p.ref]);
    const { rows } = await admin.query(`select run_at > now() + interval '50 minutes' as later from graphile_worker.jobs where key = $1`, [`storage__sweep:${p.ref}`]);
    assert.deepEqual(rows, [{ later: true }]);
    await admin.query('select graphile_worker.remove_job($1)', [`storage__sweep:${p.ref}`]);
  } finally {
    await admin.end();
  }
  await sweep({ ref: p.ref }, { logger: { info() {} } } as never);
  assert.deepEqual(fs.readdirSync(path.join(root, 'objects')).sort(), [kept, fresh].sort());
  assert.equal(fs.existsSync(path.join(root, 'renders', old)), false);
  assert.equal(await (await client(p).storage.from('b').download('keep.txt')).data!.text(), 'keep');
});
