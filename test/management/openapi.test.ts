// GET /v1/openapi.json documents every Management API route and nothing else: the test walks the router.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { management } from '../../server/src/management/index.ts';
import { managementSpec } from '../../server/src/management/openapi-spec.ts';
import { http } from '../helpers/platform.ts';

interface Layer { route?: { path: string | string[]; methods: Record<string, boolean> }; handle: { stack?: Layer[] } }

/** `METHOD /v1/path/{param}` of every route under the management router, nested routers included. */
function routes(stack: Layer[]): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const path of [layer.route.path].flat()) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push(`${method.toUpperCase()} /v1${path.replace(/:(\w+)/g, '{$1}')}`);
        }
      }
    } else if (layer.handle.stack) {
      out.push(...routes(layer.handle.stack));
    }
  }
  return out;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const documented = () => Object.entries(managementSpec.paths)
  .flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`));

test('every route is documented, and every documented operation is a route', () => {
  const actual = new Set(routes((management as unknown as { stack: Layer[] }).stack));
  assert.ok(actual.size > 20, `found ${actual.size} routes`);
  const docs = new Set(documented());
  assert.deepEqual([...actual].filter((r) => !docs.has(r)).sort(), [], 'routes missing from openapi-spec.ts');
  assert.deepEqual([...docs].filter((r) => !actual.has(r)).sort(), [], 'documented operations without a route');
});

test('the document is well-formed: refs resolve, path parameters are declared, operation ids are unique', () => {
  const spec = managementSpec as unknown as { components: Record<string, Record<string, unknown>>; paths: Record<string, Record<string, Record<string, any>>> };
  const text = JSON.stringify(spec);
  for (const [, kind, name] of text.matchAll(/"#\/components\/(\w+)\/(\w+)"/g)) {
    assert.ok(spec.components[kind]?.[name], `#/components/${kind}/${name} is defined`);
  }
  const ids = new Set<string>();
  for (const [path, ops] of Object.entries(spec.paths)) {
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries(ops)) {
      assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
      ids.add(op.operationId);
      assert.ok(op.summary, `${method} ${path} has a summary`);
      const declared = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name);
      assert.deepEqual(declared.sort(), [...params].sort(), `${method} ${path} declares its path parameters`);
      const statuses = Object.keys(op.responses);
      assert.ok(statuses.some((s) => s.startsWith('2')), `${method} ${path} has a success response`);
      if (!op.security) assert.ok(statuses.includes('401') && statuses.includes('429'), `${method} ${path} documents 401 and 429`);
      if (op.requestBody) assert.ok(statuses.includes('400'), `${method} ${path} documents 400`);
    }
  }
});

test('GET /v1/openapi.json serves the document without a token', async () => {
  const res = await http('GET', '/v1/openapi.json');
  assert.equal(res.status, 200);
  assert.equal(res.body.openapi, '3.0.3');
  assert.deepEqual(res.body, JSON.parse(JSON.stringify(managementSpec)));
  assert.equal(res.body.components.securitySchemes.bearer.scheme, 'bearer');
  assert.deepEqual(Object.keys(res.body.components.schemas.Error.properties), ['message', 'code']);
});

test('an unknown Management API path is 404 in the API\'s error shape', async () => {
  const res = await http('GET', '/v1/nothing-here');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { message: 'Endpoint not found', code: 'not_found' });
});
