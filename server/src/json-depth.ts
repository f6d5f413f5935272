// A nesting-depth limit for JSON request bodies, shared by every API. JSON.parse copes with any depth, but the
// code after it does not: JSON.stringify, recursive walkers and Postgres' own JSON parser (SQLSTATE 54001,
// "stack depth limit exceeded") overflow a few thousand levels down. No real payload nests this deep, so a
// body that does is refused at the edge with a 400, before anything recursive sees it.
import express, { type RequestHandler } from 'express';
import { settings } from '../../db/src/config.ts';

/** Arrays and objects may nest this many levels (LOAM_JSON_MAX_DEPTH overrides). */
export const JSON_MAX_DEPTH = settings.jsonMaxDepth;

export const tooDeepMessage = (max = JSON_MAX_DEPTH) => `JSON nesting is too deep: the maximum is ${max} levels`;

const QUOTE = 0x22, BACKSLASH = 0x5c, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;

/** Whether JSON text nests deeper than `max`: one pass over the bytes, no recursion, no parsing. Brackets inside
 *  strings do not count. UTF-8 continuation bytes are all >= 0x80, so scanning bytes is safe. Malformed text is
 *  not judged here (JSON.parse does that). */
export function tooDeep(text: Buffer | string, max = JSON_MAX_DEPTH): boolean {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}

/** The same limit for a value that is already parsed (GraphQL variables, which grafserv parses itself):
 *  an explicit stack, so the check cannot overflow either. */
export function valueTooDeep(value: unknown, max = JSON_MAX_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return false;
}

/** express.json with the depth limit: a deeper body fails with `tooDeepError()`, the API's own 400 (body-parser
 *  passes the thrown error on to the API's error renderer unchanged, since it carries a status). */
export function jsonParser(opts: { limit: string; type?: string[] }, tooDeepError: () => Error & { status?: number }): RequestHandler {
  return express.json({
    limit: opts.limit,
    ...(opts.type ? { type: opts.type } : {}),
    verify: (_req, _res, buf) => {
      if (tooDeep(buf)) {
        const err = tooDeepError();
        // body-parser keeps an error's own status; without one it would answer 403.
        (err as { status?: number }).status ??= 400;
        throw err;
      }
    },
  });
}
