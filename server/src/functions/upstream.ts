// A lean HTTP/1.1 client to a function worker's unix socket, for the requests without a body that most
// invocations are: one write of the request head on a pooled connection, the answer parsed as it streams
// (Content-Length, chunked, or until close) and written to the caller's response as it comes. Node's
// `http.request` costs about as much per request as the rest of the proxy together (ClientRequest, agent, a
// second IncomingMessage); requests with a body still use it (invoke.ts), with its body handling.
import net from 'node:net';
import type { ServerResponse } from 'node:http';

const HEAD_MAX = 64 * 1024;
const IDLE_MAX = 64;
const ignore = () => {};

/** Keep-alive connections to one worker. */
export class UpstreamSockets {
  private readonly idle: net.Socket[] = [];
  private closed = false;
  private readonly path: string;
  constructor(path: string) { this.path = path; }

  take(): { socket: net.Socket; reused: boolean } {
    for (let s = this.idle.pop(); s; s = this.idle.pop()) if (!s.destroyed && s.readyState === 'open') return { socket: s, reused: true };
    const socket = net.connect(this.path);
    socket.on('error', ignore);
    socket.on('close', () => { const i = this.idle.indexOf(socket); if (i !== -1) this.idle.splice(i, 1); });
    return { socket, reused: false };
  }

  give(s: net.Socket) {
    if (this.closed || this.idle.length >= IDLE_MAX || s.destroyed) { s.destroy(); return; }
    this.idle.push(s);
  }

  close() {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.destroy();
  }
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Sends `head` (a complete request head, no body) and streams the answer into `res`. `done` is called once:
 *  without an error when the answer is complete, with one when the connection failed first (then `res` is
 *  untouched if nothing was written yet: `res.headersSent` tells). Returns a function that abandons the request. */
export function bodilessRequest(pool: UpstreamSockets, head: string, isHead: boolean, res: ServerResponse, done: (err?: Error) => void): () => void {
  let { socket, reused } = pool.take();
  let pending: Buffer | undefined; // bytes of a head, chunk-size line or trailer not yet complete
  let state: 'head' | 'length' | 'size' | 'data' | 'data-end' | 'trailer' | 'close' = 'head';
  let remaining = 0;
  let received = false;
  let reusable = true;
  let finished = false;

  const finish = (err?: Error) => {
    if (finished) return;
    finished = true;
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.off('error', onError);
    res.off('drain', onDrain);
    if (err) { socket.destroy(); done(err); return; }
    if (reusable && state !== 'close') pool.give(socket); else socket.destroy();
    socket.resume();
    res.end();
    done();
  };

  const onDrain = () => socket.resume();
  const write = (chunk: Buffer) => {
    if (chunk.length && !res.write(chunk)) { socket.pause(); res.once('drain', onDrain); }
  };

  const startBody = (status: number, headers: string[]) => {
    let chunked = false;
    let length = -1;
    const out: string[] = [];
    let sse = false;
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i].toLowerCase();
      const v = headers[i + 1];
      if (k === 'transfer-encoding') chunked = /chunked/i.test(v);
      else if (k === 'content-length') length = Number(v);
      else if (k === 'connection' && /close/i.test(v)) reusable = false;
      else if (k === 'content-type' && /^text\/event-stream/i.test(v)) sse = true;
      if (!HOP.has(k)) out.push(headers[i], v);
    }
    res.writeHead(status, out);
    if (sse) res.flushHeaders();
    if (isHead || status === 204 || status === 304) return finish();
    if (chunked) { state = 'size'; return; }
    if (length >= 0 && Number.isSafeInteger(length)) { remaining = length; state = 'length'; if (length === 0) finish(); return; }
    state = 'close';
    reusable = false;
  };

  /** Index just past the first CRLF at or after `from` in `b`, or -1. */
  const line = (b: Buffer, from = 0) => { const i = b.indexOf('\r\n', from); return i === -1 ? -1 : i + 2; };

  const onData = (chunk: Buffer) => {
    received = true;
    let b = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    while (b.length && !finished) {
      if (state === 'head') {
        const end = b.indexOf('\r\n\r\n');
        if (end === -1) {
          if (b.length > HEAD_MAX) return finish(new Error('the function\'s response head is too large'));
          pending = b;
          return;
        }
        const lines = b.subarray(0, end).toString('latin1').split('\r\n');
        b = b.subarray(end + 4);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
        if (!m) return finish(new Error('the function sent a malformed response'));
        const status = Number(m[1]);
        if (status < 200) continue; // 1xx: the final answer follows
        const headers: string[] = [];
        for (let i = 1; i < lines.length; i++) {
          const c = lines[i].indexOf(':');
          if (c > 0) headers.push(lines[i].slice(0, c).trim(), lines[i].slice(c + 1).trim());
        }
        startBody(status, headers);
      } else if (state === 'length') {
        const n = Math.min(remaining, b.length);
        write(b.subarray(0, n));
        remaining -= n;
        b = b.subarray(n);
        if (remaining === 0) return finish();
      } else if (state === 'close') {
        write(b);
        return;
      } else if (state === 'data') {
        const n = Math.min(remaining, b.length);
        write(b.subarray(0, n));
        remaining -= n;
        b = b.subarray(n);
        if (remaining === 0) state = 'data-end';
      } else {
        // size, data-end and trailer all read one line.
        const at = line(b);
        if (at === -1) {
          if (b.length > HEAD_MAX) return finish(new Error('the function sent a malformed chunk'));
          pending = b;
          return;
        }
        const text = b.subarray(0, at - 2).toString('latin1');
        b = b.subarray(at);
        if (state === 'data-end') { state = 'size'; continue; }
        if (state === 'trailer') { if (text === '') return finish(); continue; }
        const size = parseInt(text.split(';')[0].trim(), 16);
        if (!Number.isSafeInteger(size) || size < 0) return finish(new Error('the function sent a malformed chunk'));
        if (size === 0) state = 'trailer';
        else { remaining = size; state = 'data'; }
      }
    }
  };

  const onClose = () => {
    if (state === 'close') return finish();
    // A kept-alive connection the worker closed before it read this request: once more on a new one.
    if (!received && reused) {
      socket.off('data', onData); socket.off('close', onClose); socket.off('error', onError);
      ({ socket, reused } = pool.take());
      return send();
    }
    finish(new Error('the connection to the function closed early'));
  };
  const onError = onClose;

  const send = () => {
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.write(head);
  };
  send();
  return () => { if (!finished) { finished = true; socket.off('data', onData); socket.destroy(); } };
}
