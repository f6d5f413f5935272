// Admin endpoints (service_role key only): users, generate_link, invite, and the email outbox Loam adds so an
// operator without SMTP can read what would have been sent.
import { Router, type Request } from 'express';
import { authCall, authTransaction } from './db.ts';
import { validatePhone } from './phone.ts';
import { AuthError, authErrors, validation } from './errors.ts';
import { newToken, tokenHash } from './mail.ts';
import { bool, ctx, email as emailParam, obj, params, redirectParam, str, type Ctx, type Params } from './params.ts';
import { checkPassword, hashPassword } from './passwords.ts';
import { isUuid, issuer, requireAdmin } from './session.ts';
import { allowedRedirect } from './config.ts';
import { sendToken } from './email.ts';

export const admin = Router();

async function adminCtx(req: Request, res: Parameters<typeof ctx>[1]): Promise<Ctx> {
  const c = await ctx(req, res);
  requireAdmin(req, c.p);
  return c;
}

function userId(req: Request): string {
  const id = String(req.params.user_id);
  if (!isUuid(id)) throw authErrors.userIdNotUuid();
  return id;
}

/** `ban_duration`: "none" lifts a ban; otherwise a Go duration such as "24h" or "1h30m". */
function banUntil(b: Params): string | null | undefined {
  const d = str(b, 'ban_duration');
  if (d === undefined) return undefined;
  if (d === 'none') return null;
  const m = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(d);
  if (!d || !m) throw validation(`invalid format for ban duration: time: invalid duration "${d}"`);
  const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return new Date(Date.now() + seconds * 1000).toISOString();
}

async function passwordHash(c: Ctx, b: Params): Promise<string | undefined> {
  const password = str(b, 'password');
  const given = str(b, 'password_hash');
  if (password && given) throw validation('Only a password or a password hash should be provided');
  if (given) {
    if (!/^\$2[aby]\$\d\d\$/.test(given)) throw validation('Invalid password hash format');
    return given;
  }
  if (password === undefined) return undefined;
  checkPassword(c.cfg, password);
  return hashPassword(password);
}

admin.get('/admin/users', async (req, res) => {
  const c = await adminCtx(req, res);
  const num = (k: string, fallback: number) => {
    const v = req.query[k];
    if (v === undefined || v === '') return fallback;
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw validation(`Bad Pagination Parameters: strconv.ParseUint: parsing "${String(v)}": invalid syntax`);
    // The SQL takes integers: a larger page would fail there (22003) instead of here, in GoTrue's words.
    if (Number(v) > 2 ** 31 - 1) throw validation(`Bad Pagination Parameters: strconv.ParseUint: parsing "${v}": value out of range`);
    return Number(v);
  };
  const page = Math.max(1, num('page', 1));
  const perPage = Math.min(1000, Math.max(1, num('per_page', 50)));
  // The SQL pages with an integer offset, (page - 1) * per_page.
  if ((page - 1) * perPage > 2 ** 31 - 1) throw validation('Bad Pagination Parameters: page * per_page is out of range');
  // GoTrue's `filter`: users whose email contains it (LIKE) or whose user_metadata.full_name does (ILIKE),
  // with `%` and `_` read as LIKE reads them, as GoTrue passes them through.
  const filter = typeof req.query.filter === 'string' ? req.query.filter : '';
  if (filter.length > 1000) throw validation('filter is too long');
  const r = await authCall(c.p, 'select auth.admin_list_users($1, $2, $3)', [page, perPage, filter ? `%${filter}%` : null]);
  const total = Number(r.total);
  const pages = Math.max(1, Math.ceil(total / perPage));
  const path = req.originalUrl.split('?')[0];
  const link = (n: number) => `<${path}?page=${n}&per_page=${perPage}${filter ? `&filter=${encodeURIComponent(filter)}` : ''}>`;
  res.set('Link', `${page < pages ? `${link(page + 1)}; rel="next", ` : ''}${link(pages)}; rel="last"`);
  res.set('X-Total-Count', String(total));
  res.json({ users: r.users, aud: 'authenticated' });
});

admin.post('/admin/users', async (req, res) => {
  const c = await adminCtx(req, res);
  const b = params(req);
  const raw = str(b, 'email');
  const rawPhone = str(b, 'phone');
  if (!raw && !rawPhone) throw validation('Cannot create a user without either an email or phone');
  const id = str(b, 'id');
  if (id !== undefined && !isUuid(id)) throw validation('ID must conform to the uuid v4 format');
  if (id === '00000000-0000-0000-0000-000000000000') throw validation('ID cannot be a nil uuid');
  const user = await authCall(c.p, 'select auth.admin_create_user($1)', [{
    email: raw ? emailParam(raw) : null, phone: rawPhone ? validatePhone(rawPhone) : null,
    password_hash: await passwordHash(c, b), email_confirm: bool(b, 'email_confirm') ?? false, phone_confirm: bool(b, 'phone_confirm') ?? false,
    user_metadata: obj(b, 'user_metadata'), app_metadata: obj(b, 'app_metadata'), role: str(b, 'role'), id,
    ban_until: banUntil(b) ?? null, ip: c.ip,
  }]);
  res.json(user);
});

admin.get('/admin/users/:user_id', async (req, res) => {
  const c = await adminCtx(req, res);
  res.json(await authCall(c.p, 'select auth.admin_get_user($1)', [userId(req)]));
});

admin.put('/admin/users/:user_id', async (req, res) => {
  const c = await adminCtx(req, res);
  const id = userId(req);
  const b = params(req);
  const patch: Record<string, unknown> = { ip: c.ip };
  const raw = str(b, 'email');
  if (raw !== undefined) Object.assign(patch, { email: emailParam(raw), email_confirm: true });
  const rawPhone = str(b, 'phone');
  const phone = rawPhone ? validatePhone(rawPhone) : undefined;
  const phoneConfirm = bool(b, 'phone_confirm') ?? false;
  const hash = await passwordHash(c, b);
  if (hash) patch.password_hash = hash;
  const data = obj(b, 'user_metadata');
  if (data) patch.data = data;
  const app = obj(b, 'app_metadata');
  if (app) patch.app_metadata = app;
  const role = str(b, 'role');
  if (role) patch.role = role;
  if (bool(b, 'email_confirm')) patch.email_confirm = true;
  const ban = banUntil(b);
  if (ban !== undefined) patch.ban_until = ban;
  // A phone (GoTrue's phone, phone_confirm) changes in the same transaction as the rest.
  res.json(await authTransaction(c.p, async (q) => {
    if (phone || phoneConfirm) await q('select auth.admin_update_phone($1, $2)', [id, { phone, phone_confirm: phoneConfirm }]);
    return (await q('select auth.update_user($1, $2)', [id, patch])).user;
  }));
});

admin.delete('/admin/users/:user_id', async (req, res) => {
  const c = await adminCtx(req, res);
  const id = userId(req);
  const soft = bool(params(req), 'should_soft_delete') ?? false;
  await authCall(c.p, 'select auth.admin_delete_user($1, $2, $3)', [id, soft, c.ip]);
  res.json({});
});

const LINK_TYPES = new Set(['signup', 'invite', 'magiclink', 'recovery', 'email_change_current', 'email_change_new']);

admin.post('/admin/generate_link', async (req, res) => {
  const c = await adminCtx(req, res);
  const b = params(req);
  const type = str(b, 'type') ?? '';
  const addr = emailParam(str(b, 'email'));
  if (!LINK_TYPES.has(type)) throw validation(`Invalid email action link type requested: ${type}`);
  const redirectTo = allowedRedirect(c.cfg, redirectParam(req, b));
  const token = newToken(c.cfg, addr, false);
  let user: unknown;
  let linkHash = token.hash;
  if (type === 'signup') {
    const password = str(b, 'password');
    if (!password) throw validation('Signup requires a valid password');
    checkPassword(c.cfg, password);
    const r = await authCall(c.p, 'select auth.signup($1)', [{
      email: addr, password_hash: await hashPassword(password), data: obj(b, 'data'), autoconfirm: false,
      token_hash: token.hash, max_frequency: 0, ip: c.ip,
    }]);
    if (r.obfuscated) throw new AuthError(422, 'email_exists', 'A user with this email address has already been registered');
    user = r.user;
  } else if (type.startsWith('email_change')) {
    if (type === 'email_change_current' && !c.cfg.mailer_secure_email_change_enabled) {
      throw validation('Enable secure email change to generate link for current email');
    }
    const newEmail = emailParam(str(b, 'new_email'));
    // GoTrue: the link to the new address carries the hash of the new address and the code; `hashed_token` in
    // the answer is always the one of the current address.
    if (type === 'email_change_new') linkHash = tokenHash(newEmail, token.code);
    user = await authCall(c.p, 'select auth.admin_email_change_link($1)', [{ email: addr, new_email: newEmail, type, token_hash: linkHash }]);
  } else {
    const r = await authCall(c.p, 'select auth.send_token($1)', [{
      email: addr, type, token_hash: token.hash, emails: {}, max_frequency: 0, create_user: type === 'magiclink',
      data: obj(b, 'data'), ip: c.ip,
    }]);
    if (r.found === false) throw new AuthError(404, 'user_not_found', 'User with this email not found');
    user = r.user;
  }
  const linkType = type.startsWith('email_change') ? 'email_change' : type;
  res.json({
    ...(user as object),
    action_link: `${issuer(c.p)}/verify?token=${linkHash}&type=${linkType}&redirect_to=${encodeURIComponent(redirectTo)}`,
    email_otp: token.code, hashed_token: token.hash, verification_type: type, redirect_to: redirectTo,
  });
});

admin.post('/invite', async (req, res) => {
  const c = await adminCtx(req, res);
  const b = params(req);
  const r = await sendToken(c, { type: 'invite', email: emailParam(str(b, 'email')), b, req, data: obj(b, 'data') });
  res.json(r.user);
});

admin.get('/admin/outbox', async (req, res) => {
  const c = await adminCtx(req, res);
  const to = typeof req.query.email === 'string' ? req.query.email : null;
  const limit = Math.min(500, Number(req.query.limit) || 50);
  res.json(await authCall(c.p, 'select auth.outbox($1, $2)', [to, limit]));
});
