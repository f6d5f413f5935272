// A project's email service (a PaaS API shape): sending domains with the DNS records to publish (DKIM with an
// RSA key pair made here per domain, a return-path subdomain with its MX and SPF) and their verification by DNS
// through the operator's resolvers (dns.ts); send-only API keys; `POST /v1/projects/{ref}/emails` (templates
// with {{variables}}, attachments under a cap, idempotency keys), delivered by worker jobs over the operator's
// SMTP relay; the emails with their events; webhooks signed per Standard Webhooks; stats per day.
import crypto from 'node:crypto';
import { roleGuard } from './roles.ts';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { config, emailServiceSettings } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { seal } from '../../../db/src/secret-box.ts';
import { DnsLookupFailed, lookupMx, lookupTxt } from '../dns.ts';
import { ApiError, errors } from '../errors.ts';
import { urlProblem } from '../project/keyring.ts';
import { body, param, str, strArray } from '../validate.ts';
import { authenticate, callerQuery, scope, sha256 } from './session.ts';

export const emailService = Router();
emailService.use(['/projects/:ref/email'], authenticate, scope('projects'));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uuidParam = (req: Request, name: string, notFound: () => ApiError) => {
  const v = param(req, name);
  if (!UUID.test(v)) throw notFound();
  return v;
};
const domainNotFound = () => new ApiError(404, 'email_domain_not_found', 'Email domain not found');

export const dkimContext = (ref: string, domain: string) => `email-dkim:${ref}:${domain}`;
export const webhookContext = (ref: string) => `email-webhook:${ref}`;

const DOMAIN = /^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

interface DnsRecord { purpose: 'dkim' | 'return_path' | 'spf'; type: 'TXT' | 'MX'; name: string; value: string; priority?: number; status: string }

function recordsFor(domain: string, selector: string, publicKey: string): DnsRecord[] {
  const { spfInclude, mxHost } = emailServiceSettings();
  const returnPath = `bounces.${domain}`;
  return [
    { purpose: 'dkim', type: 'TXT', name: `${selector}._domainkey.${domain}`, value: `v=DKIM1; k=rsa; p=${publicKey}`, status: 'pending' },
    { purpose: 'return_path', type: 'MX', name: returnPath, value: mxHost, priority: 10, status: 'pending' },
    { purpose: 'spf', type: 'TXT', name: returnPath, value: `v=spf1 include:${spfInclude} ~all`, status: 'pending' },
  ];
}

// ---- Domains ----------------------------------------------------------------------------------------------

emailService.post('/projects/:ref/email/domains', async (req, res) => {
  const ref = param(req, 'ref');
  const domain = str(body(req.body), 'domain', { required: true, max: 200 }).toLowerCase().replace(/\.$/, '');
  // Judged before a key pair is made (the SQL function judges it again): a bad name costs no RSA key generation.
  if (!DOMAIN.test(domain)) throw new ApiError(400, 'invalid_email_domain', `invalid domain "${domain}": a DNS name such as mail.example.com`);
  const { publicKey, privateKey } = await new Promise<{ publicKey: Buffer; privateKey: string }>((resolve, reject) =>
    crypto.generateKeyPair('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, pub, priv) => (err ? reject(err) : resolve({ publicKey: pub, privateKey: priv }))));
  // A selector of its own per domain row: two projects claiming one domain publish different DKIM names.
  const selector = `loam${crypto.randomBytes(4).toString('hex')}`;
  const pub = publicKey.toString('base64');
  const [row] = await callerQuery(res, 'select * from platform.create_email_domain($1, $2, $3, $4, $5, $6)',
    [ref, domain, selector, pub, seal(privateKey, dkimContext(ref, domain)), JSON.stringify(recordsFor(domain, selector, pub))]);
  res.status(201).json(row);
});

emailService.get('/projects/:ref/email/domains', async (req, res) => {
  res.json(await callerQuery(res, 'select * from platform.email_domains($1)', [param(req, 'ref')]));
});

emailService.get('/projects/:ref/email/domains/:id', async (req, res) => {
  const [row] = await callerQuery(res, 'select * from platform.email_domains($1, $2)', [param(req, 'ref'), uuidParam(req, 'id', domainNotFound)]);
  res.json(row);
});

// Looks each record up through the operator's resolvers; verified when all three are found, failed when one is
// missing.
emailService.post('/projects/:ref/email/domains/:id/verify', async (req, res) => {
  const ref = param(req, 'ref');
  const id = uuidParam(req, 'id', domainNotFound);
  const [d] = await callerQuery<{ records: DnsRecord[] }>(res, 'select * from platform.email_domains($1, $2)', [ref, id]);
  const squash = (s: string) => s.replace(/\s+/g, '');
  const checked = await Promise.all(d.records.map(async (r): Promise<DnsRecord> => {
    try {
      let found: boolean;
      if (r.type === 'MX') found = (await lookupMx(r.name)).some((m) => m.exchange === r.value.toLowerCase());
      else if (r.purpose === 'dkim') found = (await lookupTxt(r.name)).some((t) => squash(t).includes(squash(r.value.split('p=')[1] ?? '\0')) && /v=DKIM1/i.test(t));
      else found = (await lookupTxt(r.name)).some((t) => /^v=spf1\s/i.test(t) && t.split(/\s+/).includes(r.value.split(/\s+/)[1]));
      return { ...r, status: found ? 'verified' : 'not_found' };
    } catch (err) {
      if (err instanceof DnsLookupFailed) return { ...r, status: 'lookup_failed' };
      throw err;
    }
  }));
  // A record DNS did not answer for proves nothing either way: unless another is missing, the status stays.
  const verified = checked.every((r) => r.status === 'verified') ? true
    : checked.some((r) => r.status === 'not_found') ? false : null;
  const [row] = await callerQuery(res, 'select * from platform.record_email_domain_check($1, $2, $3, $4)', [ref, id, verified, JSON.stringify(checked)]);
  res.json(row);
});

emailService.delete('/projects/:ref/email/domains/:id', async (req, res) => {
  await callerQuery(res, 'select platform.delete_email_domain($1, $2)', [param(req, 'ref'), uuidParam(req, 'id', domainNotFound)]);
  res.status(204).end();
});

// ---- API keys (send only) ---------------------------------------------------------------------------------

emailService.post('/projects/:ref/email/api-keys', async (req, res) => {
  const name = str(body(req.body), 'name', { required: true, min: 1, max: 256 });
  const key = `lme_${crypto.randomBytes(24).toString('hex')}`;
  const [row] = await callerQuery(res, 'select * from platform.create_email_api_key($1, $2, $3, $4)', [param(req, 'ref'), name, sha256(key), key.slice(0, 10)]);
  res.status(201).json({ ...row, scopes: ['emails:send'], key });
});

emailService.get('/projects/:ref/email/api-keys', async (req, res) => {
  const rows = await callerQuery(res, 'select * from platform.email_api_keys($1)', [param(req, 'ref')]);
  res.json(rows.map((r) => ({ ...r, scopes: ['emails:send'] })));
});

emailService.delete('/projects/:ref/email/api-keys/:id', async (req, res) => {
  const notFound = () => new ApiError(404, 'email_api_key_not_found', 'Email API key not found');
  await callerQuery(res, 'select platform.delete_email_api_key($1, $2)', [param(req, 'ref'), uuidParam(req, 'id', notFound)]);
  res.status(204).end();
});

// ---- Webhooks -----------------------------------------------------------------------------------------------

const EVENT_TYPES = ['queued', 'sent', 'bounced', 'failed'];

emailService.post('/projects/:ref/email/webhooks', async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const url = str(b, 'url', { required: true, max: 2048 });
  const problem = urlProblem(url);
  if (problem) throw new ApiError(400, 'invalid_webhook_url', `url ${problem}`);
  const events = strArray(b, 'events') ?? EVENT_TYPES;
  if (!events.length || events.some((e) => !EVENT_TYPES.includes(e))) throw errors.invalidBody(`events must be a non-empty list of ${EVENT_TYPES.join(', ')}`);
  const secret = `whsec_${crypto.randomBytes(32).toString('base64')}`;
  const [row] = await callerQuery<{ id: string }>(res, 'select * from platform.create_email_webhook($1, $2, $3, $4)',
    [ref, url, [...new Set(events)], seal(secret, webhookContext(ref))]);
  res.status(201).json({ ...row, secret });
});

emailService.get('/projects/:ref/email/webhooks', async (req, res) => {
  res.json(await callerQuery(res, 'select * from platform.email_webhooks($1)', [param(req, 'ref')]));
});

const webhookNotFound = () => new ApiError(404, 'email_webhook_not_found', 'Email webhook not found');

emailService.delete('/projects/:ref/email/webhooks/:id', async (req, res) => {
  await callerQuery(res, 'select platform.delete_email_webhook($1, $2)', [param(req, 'ref'), uuidParam(req, 'id', webhookNotFound)]);
  res.status(204).end();
});

// What became of each event sent to a webhook: pending (retrying), delivered, or failed with the last answer.
emailService.get('/projects/:ref/email/webhooks/:id/deliveries', async (req, res) => {
  const limit = Number(req.query.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw errors.invalidBody('limit must be an integer from 1 to 500');
  const rows = await callerQuery<{ id: string; event_id: string }>(res, 'select * from platform.email_webhook_deliveries($1, $2, $3)',
    [param(req, 'ref'), uuidParam(req, 'id', webhookNotFound), limit]);
  res.json(rows.map((r) => ({ ...r, id: Number(r.id), event_id: Number(r.event_id) })));
});

// ---- Stats -------------------------------------------------------------------------------------------------

emailService.get('/projects/:ref/email/stats', async (req, res) => {
  const days = Number(req.query.days ?? 7);
  if (!Number.isInteger(days) || days < 1 || days > 90) throw errors.invalidBody('days must be an integer from 1 to 90');
  const rows = await callerQuery<{ day: string }>(res, 'select day::text, queued, sent, bounced, failed from platform.email_stats($1, $2)', [param(req, 'ref'), days]);
  res.json(rows);
});

// ---- Sending ------------------------------------------------------------------------------------------------

// An email API key (`lme_…`) may send for its project and do nothing else, under the rate limit of the project's
// plan; otherwise a management token with projects:write and a role that may do project work.
const emailAuth: RequestHandler = async (req, res, next) => {
  const m = /^Bearer\s+(lme_[0-9a-f]{48})$/i.exec(req.get('authorization') ?? '');
  if (!m) {
    for (const step of [authenticate, roleGuard, scope('projects', 'write')]) {
      await new Promise<void>((resolve, reject) => { Promise.resolve(step(req, res, (err?: unknown) => (err ? reject(err) : resolve()))).catch(reject); });
    }
    return next();
  }
  const { rows: [k] } = await controlPool().query<{ project_id: string; ref: string; retry_after: number }>(
    'select * from platform_private.email_key_project($1, $2)', [sha256(m[1]), config.rateLimitPerMinute]);
  if (!k) throw errors.unauthorized();
  if (k.retry_after > 0) throw errors.rateLimited(k.retry_after);
  if (k.ref !== param(req, 'ref').toLowerCase()) throw new ApiError(403, 'insufficient_scope', 'This email API key belongs to another project');
  res.locals.emailProjectId = k.project_id;
  next();
};

const ADDRESS = /^[^\s@<>(),;:"[\]\\]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const HEADER_UNSAFE = /[\r\n\0]/;

/** `a@b.c` or `Name <a@b.c>`: the display form and the bare address. */
function parseAddress(raw: unknown, field: string): { display: string; address: string } {
  if (typeof raw !== 'string' || raw.length > 320 || HEADER_UNSAFE.test(raw)) throw new ApiError(400, 'invalid_address', `${field} must be an email address`);
  const m = /^\s*(?:"?([^"<>]{0,100})"?\s*)?<([^<>]+)>\s*$/.exec(raw);
  const address = (m ? m[2] : raw).trim();
  if (!ADDRESS.test(address)) throw new ApiError(400, 'invalid_address', `${field}: "${raw}" is not an email address`);
  return { display: m ? `${m[1]?.trim() ? `"${m[1].trim()}" ` : ''}<${address}>` : address, address };
}

/** {{name}} → the variable's value (HTML-escaped when `html`); a name the variables lack is an error. */
export function renderTemplate(template: string, vars: Record<string, string>, html: boolean): string {
  return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,63})\s*\}\}/g, (_, name: string) => {
    if (!Object.hasOwn(vars, name)) throw new ApiError(422, 'missing_template_variable', `the template uses {{${name}}}, which variables does not give`);
    const v = vars[name];
    return html ? v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`) : v;
  });
}

const MAX_RECIPIENTS = 50;
const MAX_BODY_CHARS = 512 * 1024;
const MAX_ATTACHMENTS = 10;

// Its own router, mounted before the others: their token authentication (on every /projects path) would refuse
// an email API key.
export const emailSend = Router();
emailSend.post('/projects/:ref/emails', emailAuth, async (req, res) => {
  const ref = param(req, 'ref');
  const b = body(req.body);
  const from = parseAddress(b.from, 'from');
  const toList = Array.isArray(b.to) ? b.to : [b.to];
  if (toList.length < 1 || toList.length > MAX_RECIPIENTS) throw new ApiError(400, 'invalid_address', `to must name 1 to ${MAX_RECIPIENTS} addresses`);
  const to = toList.map((t, i) => parseAddress(t, `to[${i}]`).display);
  const vars: Record<string, string> = {};
  if (b.variables !== undefined) {
    if (typeof b.variables !== 'object' || b.variables === null || Array.isArray(b.variables)) throw errors.invalidBody('variables must be an object');
    for (const [k, v] of Object.entries(b.variables)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw errors.invalidBody(`variables.${k} must be a string, number or boolean`);
      vars[k] = String(v);
    }
  }
  const subjectTemplate = str(b, 'subject', { required: true, min: 1, max: 998 });
  const htmlTemplate = str(b, 'html', { max: MAX_BODY_CHARS });
  const textTemplate = str(b, 'text', { max: MAX_BODY_CHARS });
  if (htmlTemplate === undefined && textTemplate === undefined) throw errors.invalidBody('an email needs html or text');
  const subject = renderTemplate(subjectTemplate, vars, false);
  if (HEADER_UNSAFE.test(subject)) throw errors.invalidBody('subject must be one line');
  const html = htmlTemplate === undefined ? undefined : renderTemplate(htmlTemplate, vars, true);
  const text = textTemplate === undefined ? undefined : renderTemplate(textTemplate, vars, false);
  if ((html?.length ?? 0) + (text?.length ?? 0) > MAX_BODY_CHARS) throw new ApiError(413, 'email_too_large', `html and text hold at most ${MAX_BODY_CHARS} characters once rendered`);

  const attachments: { filename: string; content: string; content_type: string }[] = [];
  if (b.attachments !== undefined) {
    if (!Array.isArray(b.attachments) || b.attachments.length > MAX_ATTACHMENTS) throw errors.invalidBody(`attachments must be a list of at most ${MAX_ATTACHMENTS}`);
    let total = 0;
    const { maxAttachmentBytes } = emailServiceSettings();
    for (const a of b.attachments) {
      if (typeof a !== 'object' || a === null || typeof a.filename !== 'string' || typeof a.content !== 'string') throw errors.invalidBody('each attachment must be {"filename", "content" (base64), "content_type"?}');
      if (!a.filename || a.filename.length > 255 || /[\r\n\0/\\]/.test(a.filename)) throw errors.invalidBody('an attachment filename is 1 to 255 characters without slashes or line breaks');
      if (!/^[A-Za-z0-9+/\r\n]*={0,2}$/.test(a.content)) throw errors.invalidBody(`attachment ${a.filename}: content must be base64`);
      const contentType = a.content_type ?? 'application/octet-stream';
      if (typeof contentType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) throw errors.invalidBody(`attachment ${a.filename}: content_type must be a MIME type`);
      total += Buffer.byteLength(a.content, 'base64');
      if (total > maxAttachmentBytes) throw new ApiError(413, 'attachments_too_large', `attachments hold at most ${maxAttachmentBytes} bytes per email`);
      attachments.push({ filename: a.filename, content: a.content.replace(/\s+/g, ''), content_type: contentType });
    }
  }
  const idempotencyKey = req.get('idempotency-key');
  if (idempotencyKey !== undefined && (idempotencyKey.length < 1 || idempotencyKey.length > 256)) throw errors.invalidBody('Idempotency-Key holds 1 to 256 characters');
  const email = {
    from: from.display, from_address: from.address, to, subject, html: html ?? null, text: text ?? null, attachments,
    idempotency_key: idempotencyKey ?? null,
  };
  const requestHash = crypto.createHash('sha256').update(JSON.stringify(email)).digest('hex');
  const payload = JSON.stringify({ ...email, request_hash: requestHash });
  const rows = res.locals.emailProjectId
    ? (await controlPool().query('select * from platform_private.queue_email($1, $2)', [res.locals.emailProjectId, payload])).rows
    : await callerQuery(res, 'select * from platform.send_email($1, $2)', [ref, payload]);
  const r = rows[0] as { id: string; status: string; created_at: Date; replayed: boolean };
  if (r.replayed) res.set('Idempotent-Replayed', 'true');
  res.status(r.replayed ? 200 : 202).json({ id: r.id, status: r.status, created_at: r.created_at });
});

// The project's emails and their events (management tokens only: an email API key only sends).
const emailsRead: RequestHandler[] = [authenticate, scope('projects', 'read')];
emailService.get('/projects/:ref/emails', ...emailsRead, async (req: Request, res: Response) => {
  const limit = Number(req.query.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw errors.invalidBody('limit must be an integer from 1 to 500');
  res.json(await callerQuery(res, 'select * from platform.project_emails($1, null, $2)', [param(req, 'ref'), limit]));
});

emailService.get('/projects/:ref/emails/:id', ...emailsRead, async (req: Request, res: Response) => {
  const notFound = () => new ApiError(404, 'email_not_found', 'Email not found');
  const [row] = await callerQuery(res, 'select * from platform.project_emails($1, $2, 1)', [param(req, 'ref'), uuidParam(req, 'id', notFound)]);
  res.json(row);
});
