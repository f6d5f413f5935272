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

/** A path parameter as a string (Express types allow arrays for wildcard segments). */
export const param = (req: { params: Record<string, unknown> }, name: string): string => String(req.params[name]);
