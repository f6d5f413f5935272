// Every Sites operation of /v1/openapi.json with hostile path values, query strings and bodies, against a real
// site and real deploys: a 4xx (or a success), never a 5xx; and the site still serves afterwards.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { http, loam, type Account } from '../helpers/platform.ts';
import { makeZip, project, site, subdomain, uploadZip, waitDeploy } from './helpers.ts';

let owner: Account;
let ref: string;
let s: { id: string; subdomain: string };
let deployId: string;

before(async () => {
  ({ ref, owner } = await project());
  s = (await http('POST', `/v1/projects/${ref}/sites`, { token: owner.token, body: { subdomain: subdomain('fz') } })).body;
  const up = await uploadZip(owner.token, ref, s.id, makeZip([{ name: 'index.html', data: 'fuzzed' }]));
  deployId = (await waitDeploy(owner.token, ref, s.id, up.body.id)).id;
  await http('POST', `/v1/projects/${ref}/sites/${s.id}/deploys/${deployId}/publish`, { token: owner.token });
});

const VALUES = ['', '%00', '..', '..%2F..%2Fetc', '00000000-0000-0000-0000-000000000000', 'x'.repeat(3000), '%E0%A4%A', "'; drop table platform.sites; --", '\u202e', '-1', '1e309'];
const BODIES: (string | undefined)[] = [
  undefined, '', 'null', '[]', '"x"', '{', '{"subdomain":null}', '{"subdomain":"\\u0000abc"}', '{"spa_mode":"true"}',
  '{"not_found_page":"/../../x"}', '{"manifest":[]}', '{"manifest":{"../x":"a"}}', '{"manifest":{"a":"' + 'f'.repeat(64) + '","b":1}}',
  `{"manifest":{${Array.from({ length: 50 }, (_, i) => `"f${i}":"${'a'.repeat(64)}"`).join(',')}}}`, '{"label":' + JSON.stringify('l'.repeat(300)) + '}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
];
const CONTENT_TYPES = ['application/json', 'application/zip', 'application/octet-stream', 'multipart/form-data; boundary=x', 'multipart/form-data', 'text/plain'];

test('no Sites operation answers 5xx to hostile input', async () => {
  const spec = (await http('GET', '/v1/openapi.json')).body;
  const { url } = await loam();
  const real: Record<string, string> = { ref, site_id: s.id, deploy_id: deployId };
  let n = 0;
  let seed = 7;
  const pick = <T>(xs: T[]): T => xs[(seed = (seed * 1103515245 + 12345) % 2147483648) % xs.length];
  const requests: Promise<void>[] = [];
  for (const [template, ops] of Object.entries<any>(spec.paths)) {
    if (!template.includes('/sites')) continue;
    for (const method of Object.keys(ops)) {
      const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const paths = [template.replace(/\{(\w+)\}/g, (_, k) => real[k])];
      for (const name of names) for (const v of VALUES) paths.push(template.replace(/\{(\w+)\}/g, (_, k) => k === name ? v : real[k]));
      for (const p of paths) {
        for (let i = 0; i < 3; i++) {
          // Publishing and rollback of the real deploy are harmless; deleting the real site is left for the end.
          if (method === 'delete' && p === template.replace(/\{(\w+)\}/g, (_, k) => real[k]) && !template.endsWith('/files')) continue;
          // `..` as a segment is resolved by the client: `…/sites/..` would be DELETE /v1/projects/{ref} itself.
          if (!new URL(url + p).pathname.includes('/sites')) continue;
          const query = pick(['', '?path=' + pick(VALUES), '?vs=' + pick(VALUES), '?path=a.html&vs=' + deployId, '?label=' + pick(VALUES)]);
          const body = method === 'get' ? undefined : pick(BODIES);
          const req = fetch(url + p.replace(/^\/v1/, '/v1') + query, {
            method: method.toUpperCase(),
            headers: { authorization: `Bearer ${owner.token}`, 'content-type': pick(CONTENT_TYPES) },
            body,
          }).then(async (res) => {
            const text = await res.text();
            assert.ok(res.status < 500, `${method.toUpperCase()} ${p}${query} (${body?.slice(0, 80)}) → ${res.status} ${text.slice(0, 300)}`);
            n++;
          });
          requests.push(req);
          if (requests.length % 8 === 0) await Promise.all(requests.splice(0));
        }
      }
    }
  }
  await Promise.all(requests);
  assert.ok(n > 300, `${n} requests`);
  assert.equal((await site(s.subdomain)).text, 'fuzzed');
});

test('serving: hostile paths, methods and headers get a 4xx or the page, never a 5xx', async () => {
  for (const p of ['/%00', '/%', '/%E0%A4%A', '/..%5c..%5cwindows', '/' + 'a/'.repeat(600), '/index.html%00.js', '/.', '/..', '//', '/%2e%2e%2f']) {
    const r = await site(s.subdomain, p);
    assert.ok(r.status < 500 && r.status !== 200 || r.text === 'fuzzed', `${p} → ${r.status}`);
  }
  for (const range of ['bytes=999-', 'bytes=-0', 'bytes=5-1', 'bytes=a-b', 'bytes=0-0,1-1']) {
    const r = await site(s.subdomain, '/', { range });
    assert.ok(r.status < 500, `${range} → ${r.status}`);
  }
  assert.equal((await site('Not_A_Label')).status, 404);
  assert.equal((await site('x'.repeat(100))).status, 404);
});
