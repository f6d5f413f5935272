// Delivers one email of a project's email service over the operator's SMTP relay (LOAM_SMTP_URL), signed with
// its domain's DKIM key. Queued by platform_private.queue_email with max_attempts 5: a temporary failure (no
// relay, a 4xx, a dropped connection) throws and graphile-worker runs the job again later (its backoff); a
// permanent refusal (5xx) is a bounce and ends it; the last failed attempt is `failed`. Each outcome is an
// event, and each event's webhooks get a delivery job. A worker that dies mid-send leaves the job locked: it is
// unlocked and runs again (the same Message-ID), or, after the last attempt, the email is failed by
// platform_private.fail_stalled_emails.
import type { Task } from 'graphile-worker';
import nodemailer from 'nodemailer';
import { emailServiceSettings } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';
import { open } from '../../../db/src/secret-box.ts';
import { dkimContext } from '../../../server/src/management/email-service.ts';

const SEND_TIMEOUT_MS = 30_000;

const transports = new Map<string, nodemailer.Transporter>();
function transport(url: string): nodemailer.Transporter {
  let t = transports.get(url);
  if (!t) {
    t = nodemailer.createTransport(url, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: SEND_TIMEOUT_MS });
    transports.set(url, t);
  }
  return t;
}

interface Email {
  id: string; ref: string; status: string; from_address: string; to_addresses: string[]; subject: string; html: string | null;
  text_body: string | null; attachments: { filename: string; content: string; content_type: string }[];
  domain: string | null; dkim_selector: string | null; dkim_private_sealed: string | null;
}

const task: Task = async (payload, helpers) => {
  const { email_id } = payload as { email_id: string };
  const pool = controlPool();
  const { rows: [e] } = await pool.query<Email>('select * from platform_private.email_for_delivery($1)', [email_id]);
  if (!e || e.status !== 'queued') return;
  const last = helpers.job.attempts >= helpers.job.max_attempts;
  const outcome = (kind: string, detail: string | null, messageId: string | null = null) =>
    pool.query('select platform_private.email_attempt($1, $2, $3, $4)', [email_id, kind, detail, messageId]);
  if (!e.domain || !e.dkim_private_sealed) { await outcome('failed', 'the sending domain was removed'); return; }
  const privateKey = open(e.dkim_private_sealed, dkimContext(e.ref, e.domain));
  if (!privateKey) { await outcome('failed', 'the DKIM key cannot be opened with this LOAM_SECRETS_KEY'); return; }
  const { smtpUrl } = emailServiceSettings();
  if (!smtpUrl) {
    await outcome(last ? 'failed' : 'retry', 'no SMTP relay is configured (LOAM_SMTP_URL)');
    if (!last) throw new Error('no SMTP relay is configured (LOAM_SMTP_URL)');
    return;
  }
  try {
    const info = await transport(smtpUrl).sendMail({
      from: e.from_address, to: e.to_addresses, subject: e.subject, html: e.html ?? undefined, text: e.text_body ?? undefined,
      attachments: e.attachments.map((a) => ({ filename: a.filename, content: Buffer.from(a.content, 'base64'), contentType: a.content_type })),
      envelope: { from: `bounces@bounces.${e.domain}`, to: e.to_addresses.map((t) => /<([^>]+)>/.exec(t)?.[1] ?? t) },
      dkim: { domainName: e.domain, keySelector: e.dkim_selector!, privateKey },
      headers: { 'X-Loam-Email-Id': e.id },
      // One Message-ID for every attempt: a resend after a worker died mid-send is the same message to the receiver.
      messageId: `<${e.id}@${e.domain}>`,
    });
    await outcome('sent', (info.response ?? '').slice(0, 500), info.messageId ?? null);
  } catch (err) {
    const code = (err as { responseCode?: number }).responseCode;
    const detail = String((err as Error).message ?? err).slice(0, 2000);
    if (code !== undefined && code >= 500) { await outcome('bounced', detail); return; }
    await outcome(last ? 'failed' : 'retry', detail);
    if (!last) throw err;
  }
};

export default task;
