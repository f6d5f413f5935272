// Password hashing (bcrypt's async API: the work runs on libuv's pool, not the event loop) and the project's
// password rules.
import bcrypt from 'bcrypt';
import type { AuthConfig } from './config.ts';
import { authErrors, validation } from './errors.ts';
import { settings } from '../../../db/src/config.ts';

// Compared against when an email is unknown, so the answer takes as long either way.
const DUMMY = bcrypt.hashSync('loam-no-such-user', settings.bcryptRounds);
const MAX_LENGTH = 72;

export const hashPassword = (pw: string) => bcrypt.hash(pw, settings.bcryptRounds);
export const comparePassword = (pw: string, hash: string | null | undefined) => bcrypt.compare(pw, hash || DUMMY);

export function checkPassword(cfg: AuthConfig, pw: string): void {
  if (pw.length > MAX_LENGTH) throw validation(`Password cannot be longer than ${MAX_LENGTH} characters`);
  const reasons: string[] = [];
  const messages: string[] = [];
  if (pw.length < cfg.password_min_length) {
    reasons.push('length');
    messages.push(`Password should be at least ${cfg.password_min_length} characters.`);
  }
  const sets = cfg.password_required_characters ? cfg.password_required_characters.split(':') : [];
  if (sets.some((set) => set && ![...set].some((ch) => pw.includes(ch)))) {
    reasons.push('characters');
    messages.push(`Password should contain at least one character of each: ${sets.join(', ')}.`);
  }
  if (reasons.length) throw authErrors.weakPassword(messages.join(' '), reasons);
}
