// Sends one auth email from a project's outbox (auth.email_outbox) over the project's SMTP settings, or the
// platform's (LOAM_SMTP_URL) when the project has none. Without either the email stays in the outbox.
import type { Task } from 'graphile-worker';
import nodemailer from 'nodemailer';
import type pg from 'pg';
import { config } from '../../../db/src/config.ts';
import { controlPool, projectPool } from '../../../db/src/pools.ts';
import { loadRuntime } from '../../../db/src/projects.ts';
import { apiRoleContext, withContext } from '../../../db/src/context.ts';
import { authenticatorAddress } from '../../../db/src/servers.ts';

interface Smtp { smtp_host: string | null; smtp_port: string | null; smtp_user: string | null; smtp_pass: string | null;
  smtp_admin_email: string | null; smtp_sender_name: string | null }

function transportFor(cfg: Smtp): { transport: nodemailer.Transporter; from: string } | undefined {
  if (cfg.smtp_host) {
    const port = Number(cfg.smtp_port || 587);
    const transport = nodemailer.createTransport({
      host: cfg.smtp_host, port, secure: port === 465,
      auth: cfg.smtp_user ? { user: cfg.smtp_user, pass: cfg.smtp_pass ?? '' } : undefined,
    });
    const address = cfg.smtp_admin_email || `no-reply@${cfg.smtp_host}`;
    return { transport, from: cfg.smtp_sender_name ? `"${cfg.smtp_sender_name.replace(/"/g, '')}" <${address}>` : address };
  }
  if (config.smtpUrl) return { transport: nodemailer.createTransport(config.smtpUrl), from: config.smtpFrom };
  return undefined;
}

const task: Task = async (payload) => {
  const { ref, email_id } = payload as { ref: string; email_id: number };
  const p = await loadRuntime(ref);
  if (!p?.database_server_id || p.deleted) return;
  const cfg = (await controlPool().query('select platform_private.auth_config($1) as c', [ref])).rows[0]?.c as Smtp | undefined;
  const smtp = cfg && transportFor(cfg);
  if (!smtp) return;
  // As the project's service role, never as administrator: the owner may hang triggers on auth.email_outbox,
  // and those must run with the project's own rights.
  const db = projectPool(await authenticatorAddress(p), p.db_name, { max: 2 });
  const asService = <T>(fn: (c: pg.PoolClient) => Promise<T>) =>
    withContext(db, apiRoleContext(p, 'service_role'), fn);
  const email = await asService(async (c) =>
    (await c.query('select * from auth.email_outbox where id = $1 and sent_at is null', [email_id])).rows[0]);
  if (!email) return;
  try {
    await smtp.transport.sendMail({ from: smtp.from, to: email.to_address, subject: email.subject, html: email.body_html });
    await asService((c) => c.query('update auth.email_outbox set sent_at = now(), attempts = attempts + 1, last_error = null where id = $1', [email_id]));
  } catch (err) {
    await asService((c) => c.query('update auth.email_outbox set attempts = attempts + 1, last_error = $2 where id = $1', [email_id, String(err)]));
    throw err;
  } finally {
    smtp.transport.close();
  }
};
export default task;
