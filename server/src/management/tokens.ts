// Personal access tokens: created (shown once), listed (never the token), revoked; and whoami.
import { Router } from 'express';
import { config } from '../../../db/src/config.ts';
import { errors } from '../errors.ts';
import { body, str, strArray, timestamp, param } from '../validate.ts';
import { authenticate, caller, callerQuery, newAccessToken, scope } from './session.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const tokenJson = (t: Record<string, unknown>) => ({
  id: t.id, name: t.name, scopes: t.scopes, token_prefix: t.token_prefix,
  expires_at: t.expires_at, created_at: t.created_at, last_used_at: t.last_used_at,
});

export const tokens = Router();
tokens.use('/auth/tokens', authenticate, scope('tokens'));

tokens.post('/auth/tokens', async (req, res) => {
  const b = body(req.body);
  const name = str(b, 'name', { required: true, min: 1, max: 256 });
  const scopes = strArray(b, 'scopes') ?? [];
  const expiresAt = timestamp(b, 'expires_at');
  const t = newAccessToken();
  const [row] = await callerQuery(res, 'select * from platform.create_personal_token($1, $2, $3, $4, $5)',
    [name, scopes, expiresAt ?? null, t.hash, t.prefix]);
  res.status(201).json({ ...tokenJson(row), token: t.token });
});

tokens.get('/auth/tokens', async (_req, res) => {
  const rows = await callerQuery(res, `select * from platform.access_tokens where kind = 'personal' order by created_at`);
  res.json(rows.map(tokenJson));
});

tokens.delete('/auth/tokens/:id', async (req, res) => {
  if (!UUID.test(param(req, "id"))) throw errors.tokenNotFound();
  await callerQuery(res, 'select platform.delete_token($1)', [param(req, "id")]);
  res.status(204).end();
});

tokens.get('/whoami', authenticate, async (_req, res) => {
  const me = caller(res);
  const [row] = await callerQuery(res, `
    select to_jsonb(a) - 'updated_at' as account,
      -- As GET /v1/plans shows it: an unset per-minute rate limit is the operator's LOAM_RATE_LIMIT_PER_MINUTE.
      (select to_jsonb(p) || jsonb_build_object('rate_limit_per_minute', coalesce(p.rate_limit_per_minute, $2))
        from platform.plans p where p.id = platform.my_plan()) as plan,
      jsonb_build_object(
        'date', current_date,
        'requests', coalesce((select requests from platform.usage_daily where account_id = a.id and day = current_date), 0),
        'token_requests', platform.my_token_requests_today($1),
        'token_quota_day', (now() at time zone 'utc')::date,
        'organizations', (select count(*) from platform.organizations),
        'projects', (select count(*) from platform.projects)) as usage
    from platform.accounts a where a.id = platform.current_account_id()`, [me.tokenId, config.rateLimitPerMinute]);
  res.json({
    account: row.account,
    token: { id: me.tokenId, prefix: me.tokenPrefix, scopes: me.scopes, kind: me.kind },
    plan: row.plan,
    usage: row.usage,
  });
});
