// Request parameters at the edge: JSON bodies (and forms, which GoTrue also accepts), typed or a 400 in
// GoTrue's words; and the per-request context every handler starts from.
import type { Request, Response } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import { project } from '../project/resolve.ts';
import { authConfig, type AuthConfig } from './config.ts';
import { authErrors, validation } from './errors.ts';

export type Params = Record<string, unknown>;

export function params(req: Request): Params {
  const b = req.body as unknown;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw authErrors.badJson('json: cannot unmarshal into a JSON object');
  return b as Params;
}

const wrongType = (key: string, want: string, v: unknown) =>
  authErrors.badJson(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field .${key} of type ${want}`);

export function str(b: Params, key: string): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw wrongType(key, 'string', v);
  // Postgres text cannot hold a NUL byte (22021): a clear 400 naming the field instead.
  if (v.includes('\0')) throw validation(`${key} must not contain NUL characters (\\u0000)`);
  return v;
}

export function bool(b: Params, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw wrongType(key, 'bool', v);
  return v;
}

export function obj(b: Params, key: string): Record<string, unknown> | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw wrongType(key, 'map[string]interface {}', v);
  return v as Record<string, unknown>;
}

// The format GoTrue accepts (the checkmail library's): a local part of atext characters and dots, a domain of
// dot-separated labels of letters, digits and inner hyphens (63 characters at most), no TLD required.
const EMAIL_FORMAT = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

export function email(raw: string | undefined): string {
  const v = (raw ?? '').trim();
  if (!v) throw validation('An email address is required');
  if (v.length > 255) throw validation('An email address is too long');
  if (!EMAIL_FORMAT.test(v)) throw validation('Unable to validate email address: invalid format');
  return v.toLowerCase();
}

/** PKCE parameters: both or neither (GoTrue's rule). */
export function pkce(b: Params): { challenge: string; method: 's256' | 'plain' } | undefined {
  const challenge = str(b, 'code_challenge');
  const method = str(b, 'code_challenge_method');
  if (!challenge && !method) return undefined;
  if (!challenge || !method) throw validation('PKCE flow requires code_challenge_method and code_challenge');
  const m = method.toLowerCase();
  if (m !== 's256' && m !== 'plain') throw validation(`code challenge method ${method} not supported`);
  if (challenge.length < 43 || challenge.length > 128) throw validation('code challenge has to be between 43 and 128 characters');
  if (!/^[A-Za-z0-9\-._~]+$/.test(challenge)) {
    throw validation('code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes');
  }
  return { challenge, method: m };
}

export interface Ctx { p: ProjectRuntime; cfg: AuthConfig; ip: string; userAgent: string }

export async function ctx(req: Request, res: Response): Promise<Ctx> {
  const p = project(res);
  return { p, cfg: await authConfig(p.ref), ip: req.ip ?? '', userAgent: req.get('user-agent') ?? '' };
}

/** `redirect_to` from the query string (where supabase-js puts it) or the body. */
export const redirectParam = (req: Request, b: Params = {}): string | undefined =>
  (typeof req.query.redirect_to === 'string' ? req.query.redirect_to : undefined) ?? str(b, 'redirect_to');
