// Phoenix channel messages as realtime-js speaks them. vsn 1.0.0 frames are JSON objects
// ({join_ref, ref, topic, event, payload}); vsn 2.0.0 (realtime-js' default) frames are JSON arrays
// [join_ref, ref, topic, event, payload], plus two binary frames for broadcasts: a client push (kind 3) and a
// server broadcast (kind 4), whose user payload is either JSON or raw bytes. Nothing here touches a socket.

export type Vsn = '1.0.0' | '2.0.0';

export interface Message {
  join_ref: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: any;
}

/** A broadcast's user payload: JSON, or bytes a client sent as an ArrayBuffer. */
export type UserPayload = { json: unknown } | { bytes: Buffer };

export class ProtocolError extends Error {}

const KIND_PUSH = 3;
const KIND_BROADCAST = 4;
const JSON_ENCODING = 1;

export function decode(data: Buffer, isBinary: boolean, vsn: Vsn): Message {
  if (isBinary) {
    if (vsn !== '2.0.0') throw new ProtocolError('binary frames need vsn 2.0.0');
    return decodePush(data);
  }
  let v: any;
  try { v = JSON.parse(data.toString('utf8')); } catch { throw new ProtocolError('frame is not JSON'); }
  if (vsn === '2.0.0') {
    if (!Array.isArray(v) || v.length !== 5) throw new ProtocolError('a vsn 2.0.0 frame is an array of 5');
    const [join_ref, ref, topic, event, payload] = v;
    return check({ join_ref, ref, topic, event, payload });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('a vsn 1.0.0 frame is an object');
  return check({ join_ref: v.join_ref ?? null, ref: v.ref ?? null, topic: v.topic, event: v.event, payload: v.payload });
}

function check(m: Message): Message {
  if (typeof m.topic !== 'string' || typeof m.event !== 'string') throw new ProtocolError('topic and event must be strings');
  if (m.ref !== null && m.ref !== undefined && typeof m.ref !== 'string') m.ref = String(m.ref);
  if (m.join_ref !== null && m.join_ref !== undefined && typeof m.join_ref !== 'string') m.join_ref = String(m.join_ref);
  m.ref ??= null;
  m.join_ref ??= null;
  if (m.payload === null || typeof m.payload !== 'object') m.payload = {};
  return m;
}

// kind(1) join_ref_len ref_len topic_len event_len meta_len encoding(1) join_ref ref topic event meta payload
function decodePush(b: Buffer): Message {
  if (b.length < 7 || b[0] !== KIND_PUSH) throw new ProtocolError('unknown binary frame');
  const [jl, rl, tl, el, ml, enc] = [b[1], b[2], b[3], b[4], b[5], b[6]];
  let o = 7;
  const take = (n: number) => {
    if (o + n > b.length) throw new ProtocolError('truncated binary frame');
    const s = b.subarray(o, o + n).toString('latin1');
    o += n;
    return s;
  };
  const join_ref = take(jl), ref = take(rl), topic = take(tl), event = take(el), meta = take(ml);
  const body = b.subarray(o);
  let user: any;
  if (enc === JSON_ENCODING) {
    try { user = JSON.parse(body.toString('utf8')); } catch { throw new ProtocolError('broadcast payload is not JSON'); }
  } else {
    user = Buffer.from(body);
  }
  const payload: any = { type: 'broadcast', event, payload: user };
  if (meta) { try { Object.assign(payload, { meta: JSON.parse(meta) }); } catch { /* metadata is optional */ } }
  return { join_ref: join_ref || null, ref: ref || null, topic, event: 'broadcast', payload };
}

/** One frame for a client of this vsn; undefined when it cannot carry it (bytes to a 1.0.0 client). */
export function encode(m: Message, vsn: Vsn): string | Buffer | undefined {
  const user = m.event === 'broadcast' ? m.payload?.payload : undefined;
  if (Buffer.isBuffer(user)) return vsn === '2.0.0' ? encodeBroadcast(m.topic, m.payload.event, user) : undefined;
  if (vsn === '2.0.0') return JSON.stringify([m.join_ref, m.ref, m.topic, m.event, m.payload]);
  return JSON.stringify({ join_ref: m.join_ref, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload });
}

// kind(1) topic_len event_len meta_len encoding(1) topic event meta payload
function encodeBroadcast(topic: string, event: string, bytes: Buffer): Buffer {
  const t = Buffer.from(topic, 'utf8'), e = Buffer.from(event, 'utf8');
  if (t.length > 255 || e.length > 255) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([KIND_BROADCAST, t.length, e.length, 0, 0]), t, e, bytes]);
}

export const reply = (m: Message, status: 'ok' | 'error', response: unknown = {}): Message =>
  ({ join_ref: m.join_ref, ref: m.ref, topic: m.topic, event: 'phx_reply', payload: { status, response } });
