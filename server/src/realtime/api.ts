// The realtime REST API: `POST /realtime/v1/api/broadcast` (supabase-js' send() before a socket is joined, and
// server-side senders with the service key) and `POST /realtime/v1/api/broadcast/{topic}/events/{event}`
// (httpSend). Messages to private channels need an insert policy on realtime.messages, as on the socket.
import express, { Router, type Request, type Response } from 'express';
import { identify } from '../project/keys.ts';
import { project } from '../project/resolve.ts';
import { channelPolicies, verifyToken, type Subscriber } from './authorize.ts';
import * as bus from './bus.ts';
import { realtimeSettings } from './limits.ts';

export const realtime = Router();

realtime.use((req, res, next) => {
  res.set({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Authorization, Content-Type, apikey, x-client-info' });
  if (req.method === 'OPTIONS') return void res.status(204).end();
  next();
});

async function caller(req: Request, res: Response): Promise<Subscriber | undefined> {
  try {
    const id = identify(req, project(res));
    if (!id.token) throw new Error('no token');
    return verifyToken(project(res), id.token);
  } catch (e) {
    res.status(401).json({ message: e instanceof Error && 'reason' in e ? (e as any).reason : 'Unauthorized' });
    return undefined;
  }
}

async function send(res: Response, who: Subscriber, messages: { topic: string; event: string; payload: unknown; private: boolean }[]) {
  const p = project(res);
  const limit = (await realtimeSettings(p.ref)).max_payload_size_in_kb * 1024;
  for (const m of messages) {
    const size = Buffer.isBuffer(m.payload) ? m.payload.length : Buffer.byteLength(JSON.stringify(m.payload ?? null));
    if (size > limit) return void res.status(413).json({ message: 'Payload size exceeds tenant limit' });
  }
  for (const m of messages) {
    if (m.private && who.role !== 'service_role') {
      const may = await channelPolicies(p, who, m.topic).then((x) => x.broadcastWrite, () => false);
      if (!may) continue; // as at Supabase: the request is accepted, unauthorized messages are not sent
    }
    bus.broadcast(bus.channelKey(p.ref, m.private, m.topic), 'broadcast', { type: 'broadcast', event: m.event, payload: m.payload });
  }
  res.status(202).end();
}

const MAX_MESSAGES = 100;
const json = express.json({ limit: '4mb' });
const body = express.raw({ type: () => true, limit: '4mb' });

realtime.post('/api/broadcast', json, async (req, res, next) => {
  try {
    const who = await caller(req, res);
    if (!who) return;
    const list = req.body?.messages;
    if (!Array.isArray(list) || !list.every((m) => m && typeof m.topic === 'string' && m.topic && typeof m.event === 'string')) {
      return void res.status(422).json({ message: 'messages must be a list of {topic, event, payload, private}' });
    }
    // Each private message is one policy check in the project database: a request sends a bounded number.
    if (list.length > MAX_MESSAGES) return void res.status(422).json({ message: `at most ${MAX_MESSAGES} messages per request` });
    await send(res, who, list.map((m) => ({ topic: m.topic, event: m.event, payload: m.payload ?? {}, private: m.private === true })));
  } catch (err) { next(err); }
});

realtime.post('/api/broadcast/:topic/events/:event', body, async (req, res, next) => {
  try {
    const who = await caller(req, res);
    if (!who) return;
    const raw = req.body as Buffer;
    let payload: unknown = raw;
    if (!/octet-stream/.test(req.get('content-type') ?? '')) {
      try { payload = JSON.parse(raw.toString('utf8')); } catch { return void res.status(422).json({ message: 'payload is not JSON' }); }
    }
    await send(res, who, [{ topic: req.params.topic, event: req.params.event, payload, private: req.query.private === 'true' }]);
  } catch (err) { next(err); }
});
