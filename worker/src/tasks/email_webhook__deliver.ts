// Delivers one email event to one webhook, signed per Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature with the webhook's whsec_ secret), through guardedFetch (public addresses only, checked at
// connection time; capped answer), within DELIVERY_TIMEOUT_MS for the whole exchange. A 2xx delivers; anything
// else throws and graphile-worker retries (max_attempts 5, its backoff); the last failure is `failed`.
import type { Task } from 'graphile-worker';
import { Webhook } from 'standardwebhooks';
import { controlPool } from '../../../db/src/pools.ts';
import { open } from '../../../db/src/secret-box.ts';
import { webhookContext } from '../../../server/src/management/email-service.ts';
import { guardedFetch } from '../../../server/src/project/keyring.ts';

/** The whole exchange, connection to last byte: a receiver that trickles its answer does not hold the job. */
export const DELIVERY_TIMEOUT_MS = 10_000;

interface Delivery {
  delivery_id: string; status: string; ref: string; url: string; secret_sealed: string; event_id: string; type: string; at: Date;
  detail: string | null; email_id: string; from_address: string; to_addresses: string[]; subject: string; message_id: string | null;
}

const task: Task = async (payload, helpers) => {
  const { delivery_id } = payload as { delivery_id: string };
  const pool = controlPool();
  const { rows: [d] } = await pool.query<Delivery>('select * from platform_private.email_webhook_delivery($1)', [delivery_id]);
  if (!d || d.status !== 'pending') return;
  const last = helpers.job.attempts >= helpers.job.max_attempts;
  const record = (ok: boolean, status: number | null, error: string | null) =>
    pool.query('select platform_private.email_webhook_attempt($1, $2, $3, $4, $5)', [delivery_id, ok, last, status, error]);
  const secret = open(d.secret_sealed, webhookContext(d.ref));
  if (!secret) { await record(false, null, 'the signing secret cannot be opened with this LOAM_SECRETS_KEY'); return; }
  const body = JSON.stringify({
    type: `email.${d.type}`,
    timestamp: d.at.toISOString(),
    data: { email_id: d.email_id, from: d.from_address, to: d.to_addresses, subject: d.subject, message_id: d.message_id, detail: d.detail },
  });
  const msgId = `msg_${d.event_id}`;
  const timestamp = new Date();
  const signature = new Webhook(secret).sign(msgId, timestamp, body);
  let status: number | null = null;
  try {
    const res = await guardedFetch(d.url, {
      method: 'POST', body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)), 'webhook-signature': signature },
    });
    status = res.status;
    if (res.ok) { await record(true, status, null); return; }
    throw new Error(`the webhook answered ${status}`);
  } catch (err) {
    await record(false, status, String((err as Error).message ?? err));
    if (!last) throw err;
  }
};

export default task;
