// The one mapping from a Postgres error to an HTTP error, fed real errors from a real server: every data
// exception (class 22) and program limit (class 54) a caller's input can cause is a 400 in each API's shape —
// Management `{message, code}`, auth's validation_failed, storage's InvalidRequest, REST's status table.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { mapPgError } from '../../db/src/pg-errors.ts';
import { toAuthError } from '../../server/src/auth/errors.ts';
import { toApiError } from '../../server/src/errors.ts';
import { fromPgError, RestError } from '../../server/src/rest/errors.ts';
import { toStorageError } from '../../server/src/storage/errors.ts';
import { adminClient } from '../helpers/platform.ts';

let c: pg.Client;
before(async () => {
  c = await adminClient();
  await c.query('create function pg_temp.dive(n int) returns int language plpgsql as $$ begin return pg_temp.dive(n + 1); end $$');
});
after(async () => { await c.end(); });

async function pgError(sql: string, params: unknown[] = []): Promise<Error & { code: string }> {
  try {
    await c.query(sql, params);
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error(`expected ${sql} to fail`);
}

// [statement, params, SQLSTATE, the Management code]
const CASES: [string, unknown[], string, string][] = [
  ['select $1::text', ['a\u0000b'], '22021', 'invalid_text'],
  ["select ($1::jsonb)->>'a'", ['{"a":"\\u0000"}'], '22P05', 'invalid_text'],
  ['select $1::int', [1e12], '22003', 'numeric_out_of_range'],
  ['select $1::int', ['x'], '22P02', 'invalid_input'],
  ["select 'a' ~ $1", ['('], '2201B', 'invalid_input'],
  // Stack depth: what a deeply nested value or expression runs into (here a recursion, the surest way there).
  ['select pg_temp.dive(0)', [], '54001', 'statement_too_complex'],
  ['select array_fill(1, array[$1::int])', [1 << 28], '54000', 'program_limit_exceeded'],
  ['select 1 / $1::int', [0], '22012', 'invalid_input'], // any other data exception: its class decides
];

test('class 22 and 54 errors map to 400 with a stable code in every API', async () => {
  for (const [sql, params, sqlstate, code] of CASES) {
    const err = await pgError(sql, params);
    assert.equal(err.code, sqlstate, sql);
    assert.deepEqual(mapPgError(err), { status: 400, code, message: err.message }, sql);

    const api = toApiError(err);
    assert.deepEqual([api.status, api.code, api.message], [400, code, err.message], sql);

    const auth = toAuthError(err);
    assert.deepEqual([auth.status, auth.code, auth.message], [400, 'validation_failed', err.message], sql);

    const storage = toStorageError(err);
    assert.deepEqual([storage.httpStatus, storage.statusCode, storage.code, storage.message], [400, 400, 'InvalidRequest', err.message], sql);

    const rest = fromPgError(err, true) as RestError;
    assert.ok(rest instanceof RestError);
    assert.deepEqual([rest.status, rest.code, rest.message], [400, sqlstate, err.message], sql);
  }
});

test('a value too long for its column (22001) is value_too_long', async () => {
  await c.query('create temp table short_text (v varchar(3))');
  const err = await pgError('insert into short_text values ($1)', ['abcd']);
  assert.equal(err.code, '22001');
  assert.deepEqual(mapPgError(err), { status: 400, code: 'value_too_long', message: 'value too long for type character varying(3)' });
  assert.equal(toStorageError(err).code, 'InvalidRequest');
  assert.equal(toAuthError(err).code, 'validation_failed');
});

test('errors that are not the caller\'s stay 5xx', async () => {
  const internal = await pgError("do $$ begin raise exception using errcode = 'XX000', message = 'internal'; end $$");
  assert.equal(mapPgError(internal), undefined);
  assert.equal(toApiError(internal).status, 500);
  assert.equal(toStorageError(internal).httpStatus, 500);
  assert.equal((fromPgError(internal, true) as RestError).status, 500);
});
