// Validation of JSON request bodies at the edge: each reader returns a typed value or throws a 400.
import { errors } from './errors.ts';

export type Body = Record<string, unknown>;

export function body(raw: unknown): Body {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw errors.invalidBody('Request body must be a JSON object');
  return raw as Body;
}

export function str(b: Body, key: string, opts: { required: true; max?: number; min?: number }): string;
export function str(b: Body, key: string, opts?: { required?: false; max?: number; min?: number }): string | undefined;
export function str(b: Body, key: string, opts: { required?: boolean; max?: number; min?: number } = {}): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) {
    if (opts.required) throw errors.invalidBody(`${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw errors.invalidBody(`${key} must be a string`);
  if (v.includes('\0')) throw errors.invalidBody(nulMessage(key));
  if (opts.min !== undefined && v.length < opts.min) throw errors.invalidBody(`${key} must be at least ${opts.min} characters`);
  if (opts.max !== undefined && v.length > opts.max) throw errors.invalidBody(`${key} must be at most ${opts.max} characters`);
  return v;
}

export function bool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw errors.invalidBody(`${key} must be a boolean`);
  return v;
}

export function strArray(b: Body, key: string): string[] | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw errors.invalidBody(`${key} must be an array of strings`);
  return v as string[];
}

export function timestamp(b: Body, key: string): string | undefined {
  const v = str(b, key);
  if (v === undefined) return undefined;
  if (Number.isNaN(Date.parse(v))) throw errors.invalidBody(`${key} must be an ISO 8601 timestamp`);
  return v;
}

export function email(b: Body, key = 'email'): string {
  const v = str(b, key, { required: true, max: 320 }).trim();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) throw errors.invalidBody(`${key} must be an email address`);
  return v;
}

// Postgres text cannot hold a NUL byte (it would fail there as 22021/22P05): refused at the edge, by name.
const nulMessage = (name: string) => `${name} must not contain NUL characters (\\u0000)`;

/** Refuses a NUL anywhere in a JSON value (strings and keys, at any depth) that goes to SQL as a whole, and
 *  strings longer than `maxLength`. */
export function checkStrings(value: unknown, maxLength: number, name = 'body'): void {
  const stack: [unknown, string][] = [[value, name]];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) throw errors.invalidBody(nulMessage(at));
      if (v.length > maxLength) throw errors.invalidBody(`${at} must be at most ${maxLength} characters`);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\0')) throw errors.invalidBody(nulMessage(`a key of ${at}`));
        stack.push([child, at === 'body' ? k : `${at}.${k}`]);
      }
    }
  }
}

/** A path parameter as a string (Express types allow arrays for wildcard segments). A NUL (`%00`) can match
 *  nothing that exists: refused as a bad path rather than sent to Postgres. */
export const param = (req: { params: Record<string, unknown> }, name: string): string => {
  const v = String(req.params[name]);
  if (v.includes('\0')) throw errors.invalidPath(nulMessage(name));
  return v;
};
