// The auth API's one-round-trip calls inline their values as literals: exact text, and quotes or backslashes
// in user input stay inside the literal (also end to end, with an address that has a quote in it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inline } from '../../server/src/auth/db.ts';
import { PASSWORD, authProject, client } from './helpers.ts';

describe('inline', () => {
  it('renders each kind of value', () => {
    assert.equal(inline('select f($1, $2, $3, $4, $5)', ['a', 5, true, null, { k: "it's" }]),
      `select f('a', '5', true, null, '{"k":"it''s"}')`);
  });

  it('keeps hostile strings inside one literal', () => {
    assert.equal(inline('select f($1)', ["x'); drop table auth.users; --"]), `select f('x''); drop table auth.users; --')`);
    // pg's escapeLiteral writes backslashes as an E'' string (with a leading space).
    assert.equal(inline('select f($1)', ['back\\slash']), `select f( E'back\\\\slash')`);
  });

  it('refuses non-finite numbers', () => {
    assert.throws(() => inline('select f($1)', [Number.NaN]), TypeError);
  });

  it("an email with a quote signs up and in", async () => {
    const p = await authProject({ mailer_autoconfirm: true });
    const email = `o'brien.${Date.now()}@example.com`;
    assert.equal((await client(p).auth.signUp({ email, password: PASSWORD })).error, null);
    const { data, error } = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(error, null);
    assert.equal(data.user!.email, email);
  });
});
