// Auth's SQL carries user input as parameters: quotes in an address are just characters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PASSWORD, authProject, client } from './helpers.ts';

describe('auth SQL parameters', () => {
  it("an email with a quote signs up and in", async () => {
    const p = await authProject({ mailer_autoconfirm: true });
    const email = `o'brien.${Date.now()}@example.com`;
    assert.equal((await client(p).auth.signUp({ email, password: PASSWORD })).error, null);
    const { data, error } = await client(p).auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(error, null);
    assert.equal(data.user!.email, email);
  });
});
