// The proxy from an invocation to its worker: undici over the worker's unix socket. One `Pool` per worker
// (runtime.ts), one request per connection at a time (no pipelining: a long event stream must not hold up the
// requests behind it), as many connections as requests in flight, kept alive between them. Bodies stream both
// ways with backpressure; the request body is counted against the limit as it streams; the function's headers
// pass as it sent them (names, order, repeats) without hop-by-hop ones; a client that goes away aborts its
// request; the wall clock stops the worker, which ends every request it holds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { FunctionWorker } from './runtime.ts';

/** Connections to one worker's socket. No undici timeouts: the wall clock (below) is the only limit. */
export const upstreamPool = (socketPath: string) =>
  new Pool('http://localhost', { socketPath, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });

// Hop-by-hop headers (and those the proxy sets itself) are not passed on; `expect` is answered by Node.
const HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect', 'x-forwarded-for']);
const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade']);

/** Reasons this side ends a request with: none of them says anything about the worker. */
class Stop extends Error {}
const CLIENT_GONE = new Stop('the client went away');
const TOO_LARGE = new Stop('the request body is too large');

type Outcome = { kind: 'done' } | { kind: 'too-large' } | { kind: 'lost' } | { kind: 'invalid'; message: string };

/** Headers the `Connection` header names are hop-by-hop too. */
const named = (connection: string | string[] | undefined): Set<string> | undefined => {
  if (connection === undefined) return undefined;
  const names = String(connection).toLowerCase().split(',').map((x) => x.trim()).filter((x) => x && x !== 'close' && x !== 'keep-alive');
  return names.length ? new Set(names) : undefined;
};

/** The request body as it arrives, counted; it never destroys the client's request (undici destroys a stream
 *  body it gives up on, and the client must still get its answer). */
async function* counted(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let received = 0;
  const chunks = req.iterator({ destroyOnReturn: false });
  for (;;) {
    let next: IteratorResult<Buffer>;
    try { next = await chunks.next(); } catch { throw CLIENT_GONE; }
    if (next.done) return;
    received += next.value.length;
    if (received > max) throw TOO_LARGE;
    yield next.value;
  }
}

/** Request headers for the worker: as Node parsed them (what the gateway checked is what the function gets: one
 *  `Authorization`, the `apikey` taken from the query), less hop-by-hop ones, plus where the request came from. */
function upstreamHeaders(req: IncomingMessage): string[] {
  const h = req.headers;
  const out: string[] = [];
  const also = named(h.connection);
  for (const k in h) {
    const v = h[k];
    if (v === undefined || HOP.has(k) || also?.has(k)) continue;
    if (typeof v === 'string') out.push(k, v);
    else for (const x of v) out.push(k, x);
  }
  out.push('host', req.headers.host ?? 'localhost');
  const remote = req.socket.remoteAddress ?? '';
  const xff = req.headers['x-forwarded-for'];
  out.push('x-forwarded-for', xff ? `${xff}, ${remote}` : remote);
  if (req.headers['x-forwarded-proto'] === undefined) out.push('x-forwarded-proto', 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
  if (req.headers['content-length'] !== undefined && req.headers['transfer-encoding'] === undefined) out.push('content-length', req.headers['content-length']);
  return out;
}

/** Proxies `req` to the worker at `path`; settles once the answer is out, or with how it failed before
 *  anything was sent (the caller answers then). */
export function forward(req: IncomingMessage, res: ServerResponse, worker: FunctionWorker, path: string, maxBody: number): Promise<Outcome> {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let controller: Dispatcher.DispatchController | undefined;
    let stopped: Stop | undefined;
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      resolve(o);
    };
    const stop = (why: Stop) => { stopped ??= why; controller?.abort(why); };
    const onClose = () => { if (!res.writableFinished) { stop(CLIENT_GONE); settle({ kind: 'done' }); } };
    res.on('close', onClose);
    const onDrain = () => controller?.resume();
    worker.upstream.dispatch({
      method: req.method ?? 'GET',
      path,
      headers: upstreamHeaders(req),
      // undici sends an async iterable chunked (or with the client's length), awaiting the socket between chunks;
      // its types list only the stream body it also takes.
      body: hasBody ? counted(req, maxBody) as unknown as Readable : null,
    }, {
      onRequestStart(c) {
        controller = c;
        if (stopped) c.abort(stopped);
      },
      onResponseStart(c, status, headers) {
        const raw = (c.rawHeaders ?? []) as Buffer[]; // Buffers as received (unwrap-handler.js)
        const out: string[] = [];
        const also = named(headers.connection);
        for (let i = 0; i < raw.length; i += 2) {
          const k = raw[i].toString('latin1');
          const lower = k.toLowerCase();
          if (!RESPONSE_HOP.has(lower) && !also?.has(lower)) out.push(k, raw[i + 1].toString('latin1'));
        }
        res.writeHead(status, out);
        // Event streams get their headers at once; other answers go out with their first bytes (one write).
        if (/^text\/event-stream/.test(String(headers['content-type'] ?? ''))) res.flushHeaders();
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk)) { c.pause(); res.once('drain', onDrain); }
      },
      onResponseEnd() {
        // A function may answer without reading the whole body: the rest is not read either, and the client's
        // connection, which still carries it, is closed once the answer is out.
        if (hasBody && !req.complete) res.once('finish', () => req.socket.destroy());
        res.off('drain', onDrain);
        res.end();
        settle({ kind: 'done' });
      },
      onResponseError(_c, err) {
        res.off('drain', onDrain);
        if (err === CLIENT_GONE) return settle({ kind: 'done' });
        if (err === TOO_LARGE) {
          if (res.headersSent) res.destroy();
          return settle({ kind: 'too-large' });
        }
        if (res.headersSent) { res.destroy(); return settle({ kind: 'done' }); }
        // undici refusing the request itself (Node's parser lets nothing through it would refuse, but a
        // refusal must not count against the worker).
        if (!controller && (err as { code?: string }).code === 'UND_ERR_INVALID_ARG') return settle({ kind: 'invalid', message: err.message });
        settle({ kind: 'lost' });
      },
    });
  });
}
