// Third-party auth (Supabase's /v1/projects/{ref}/config/auth/third-party-auth): the project trusts tokens of
// another issuer — by its OIDC issuer URL (its discovery document names the JWKS), a JWKS URL, or a JWKS given
// inline. Keys are fetched by the API process under keyring.ts' rules (http(s) only, public addresses only
// unless the operator allows private ones, time and size limits, cached); the data plane takes the token's
// `role` claim (anon or authenticated, never service_role).
import { Router, type Response } from 'express';
import type { JWK } from 'jose';
import { forgetRuntime } from '../../../db/src/projects.ts';
import { ApiError, errors } from '../errors.ts';
import { resolveThirdParty, urlProblem } from '../project/keyring.ts';
import { body, param, str } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

interface TpaRow {
  id: string; type: string; oidc_issuer_url: string | null; jwks_url: string | null; custom_jwks: { keys: JWK[] } | null;
  inserted_at: Date; updated_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const notFound = () => new ApiError(404, 'third_party_auth_not_found', 'Third-party auth integration not found');

/** Supabase names an integration after the issuer it recognises. */
function typeOf(issuer: string | undefined, jwks: string | undefined): string {
  const host = (() => { try { return new URL(issuer ?? jwks ?? '').hostname; } catch { return ''; } })();
  if (host === 'securetoken.google.com') return 'firebase';
  if (host.endsWith('.auth0.com')) return 'auth0';
  if (host.startsWith('cognito-idp.')) return 'aws-cognito';
  if (host.endsWith('.clerk.accounts.dev') || host.startsWith('clerk.')) return 'clerk';
  if (host === 'api.workos.com') return 'workos';
  return issuer ? 'oidc' : 'jwks';
}

/** The row as Supabase shows it, with the keys as resolved now (null while the issuer cannot be reached). */
async function tpaJson(t: TpaRow) {
  const resolved = await resolveThirdParty(t).catch(() => undefined);
  return {
    id: t.id, type: t.type, oidc_issuer_url: t.oidc_issuer_url, jwks_url: t.jwks_url, custom_jwks: t.custom_jwks,
    resolved_jwks: resolved ? { keys: resolved.keys } : null, resolved_at: resolved?.resolvedAt.toISOString() ?? null,
    inserted_at: t.inserted_at.toISOString(), updated_at: t.updated_at.toISOString(),
  };
}

function url(b: Record<string, unknown>, key: string): string | undefined {
  const v = str(b, key, { max: 2048 });
  if (v === undefined || v === '') return undefined;
  const problem = urlProblem(v);
  if (problem) throw errors.invalidBody(`${key} ${problem}`);
  return v;
}

async function one(res: Response, ref: string, id: string): Promise<TpaRow> {
  const t = UUID.test(id) ? (await callerQuery<TpaRow>(res, 'select * from platform.third_party_auths($1)', [ref])).find((r) => r.id === id) : undefined;
  if (!t) throw notFound();
  return t;
}

const BASE = '/projects/:ref/config/auth/third-party-auth';
export const thirdPartyAuth = Router();
thirdPartyAuth.use(BASE, authenticate, scope('projects'));

thirdPartyAuth.get(BASE, async (req, res) => {
  const rows = await callerQuery<TpaRow>(res, 'select * from platform.third_party_auths($1)', [param(req, 'ref')]);
  res.json(await Promise.all(rows.map(tpaJson)));
});

thirdPartyAuth.post(BASE, async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const issuer = url(b, 'oidc_issuer_url');
  const jwks = url(b, 'jwks_url');
  let custom: { keys: JWK[] } | null = null;
  if (b.custom_jwks !== undefined && b.custom_jwks !== null) {
    const keys = (b.custom_jwks as { keys?: unknown })?.keys;
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > 20 || JSON.stringify(b.custom_jwks).length > 65_536) {
      throw errors.invalidBody('custom_jwks must be a JWKS: {"keys": [1 to 20 JWKs]}');
    }
    custom = { keys: keys as JWK[] };
  }
  if (!issuer && !jwks && !custom) throw errors.invalidBody('one of oidc_issuer_url, jwks_url or custom_jwks is required');
  const [row] = await callerQuery<TpaRow>(res, 'select * from platform.create_third_party_auth($1, $2, $3, $4, $5)',
    [ref, typeOf(issuer, jwks), issuer ?? null, jwks ?? null, custom]);
  forgetRuntime(ref);
  res.status(201).json(await tpaJson(row));
});

thirdPartyAuth.get(`${BASE}/:tpa_id`, async (req, res) => {
  res.json(await tpaJson(await one(res, param(req, 'ref'), param(req, 'tpa_id'))));
});

thirdPartyAuth.delete(`${BASE}/:tpa_id`, async (req, res) => {
  const ref = param(req, 'ref');
  const id = param(req, 'tpa_id');
  if (!UUID.test(id)) throw notFound();
  const [row] = await callerQuery<TpaRow>(res, 'select * from platform.delete_third_party_auth($1, $2)', [ref, id]);
  forgetRuntime(ref);
  res.json(await tpaJson(row));
});
