// Sends one email from the outbox over SMTP. Without SMTP settings the email stays in the outbox, unsent,
// where the operator reads it (`loam outbox` or psql).
import type { Task } from 'graphile-worker';
import nodemailer from 'nodemailer';
import { config } from '../../../db/src/config.ts';
import { controlPool } from '../../../db/src/pools.ts';

let transport: nodemailer.Transporter | undefined;

const task: Task = async (payload) => {
  if (!config.smtpUrl) return;
  const { email_id } = payload as { email_id: string };
  const { rows: [email] } = await controlPool().query('select * from platform_private.email_to_send($1)', [email_id]);
  if (!email?.id) return;
  transport ??= nodemailer.createTransport(config.smtpUrl);
  try {
    await transport.sendMail({ from: config.smtpFrom, to: email.to_address, subject: email.subject, text: email.body_text });
    await controlPool().query('select platform_private.email_sent($1, null)', [email_id]);
  } catch (err) {
    await controlPool().query('select platform_private.email_sent($1, $2)', [email_id, String(err)]);
    throw err;
  }
};
export default task;
