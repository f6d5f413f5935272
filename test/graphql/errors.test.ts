// Error masking (production vs development) and the limit rules, checked on the functions themselves:
// the test Loam runs in development mode, and a production Loam would need its own process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphQLError, buildSchema, parse, specifiedRules, validate } from 'graphql';
import { makeMaskError } from '../../server/src/graphql/errors.ts';
import { limitsRule } from '../../server/src/graphql/limits.ts';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'ERROR', detail: 'secret detail' });
const wrap = (original: Error) => new GraphQLError(original.message, { originalError: original, path: ['x'] });

test('production hides internal errors and keeps the caller\'s SQL errors', () => {
  const mask = makeMaskError(true);
  // A lost database connection says so (the API is unavailable, not broken), without the server's detail.
  const lost = mask(wrap(pgError('08006', 'connection to 10.0.0.5 failed')));
  assert.equal(lost.message, 'The database is not available right now: try again shortly');
  assert.deepEqual(lost.extensions, { code: 'SERVICE_UNAVAILABLE' });
  const bug = mask(wrap(new TypeError('cannot read properties of undefined (reading "x") at /srv/loam/file.ts')));
  assert.equal(bug.message, 'An internal error occurred');
  assert.deepEqual(bug.path, ['x']);
  const rls = mask(wrap(pgError('42501', 'permission denied for table posts')));
  assert.equal(rls.message, 'permission denied for table posts');
  assert.equal(rls.extensions.code, '42501');
  const raised = mask(wrap(pgError('P0001', 'not enough credits')));
  assert.equal(raised.extensions.code, 'P0001');
});

test('development shows internal messages, still with a code', () => {
  const mask = makeMaskError(false);
  const bug = mask(wrap(new TypeError('boom')));
  assert.equal(bug.message, 'boom');
  assert.equal(bug.extensions.code, 'INTERNAL_SERVER_ERROR');
});

test('limits: depth counts fields, cost multiplies pages; variables count at their default', () => {
  const schema = buildSchema(`
    type Query { items(first: Int): ItemsConnection, item: Item }
    type ItemsConnection { nodes: [Item] totalCount: Int }
    type Item { name: String, children(first: Int): ItemsConnection, tags: [String] }`);
  const check = (q: string, depth = 5, cost = 1000) =>
    validate(schema, parse(q), [...specifiedRules, limitsRule(depth, cost)]).map((e) => e.extensions.code);
  assert.deepEqual(check('{ item { children { nodes { name } } } }'), []); // depth 4
  assert.deepEqual(check('{ item { children { nodes { children { nodes { name } } } } } }'), ['QUERY_TOO_DEEP']);
  // 1 + 10 (nodes) + 10 (name) = 21
  assert.deepEqual(check('{ items(first: 10) { nodes { name } } }', 5, 21), []);
  assert.deepEqual(check('{ items(first: 10) { nodes { name } } }', 5, 20), ['QUERY_TOO_COMPLEX']);
  // open page = 100 rows
  assert.deepEqual(check('{ items { nodes { name } } }', 5, 200), ['QUERY_TOO_COMPLEX']);
  assert.deepEqual(check('query ($n: Int = 5) { items(first: $n) { nodes { name } } }', 5, 11), []);
  assert.deepEqual(check('query ($n: Int) { items(first: $n) { nodes { name } } }', 5, 11), ['QUERY_TOO_COMPLEX']);
  // an unpaged list multiplies too
  assert.deepEqual(check('{ item { tags } }', 5, 3), []);
  assert.deepEqual(check('{ items(first: 2) { nodes { tags } } }', 5, 5), []);
});
