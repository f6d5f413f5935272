// Reads the domain error registry (sql/ERRORS.md) and maps a Postgres error to an HTTP status and stable code.
import fs from 'node:fs';

export interface MappedError {
  status: number;
  code: string;
  message: string;
}

interface Entry { status: number; code: string }

const registryPath = new URL('../../sql/ERRORS.md', import.meta.url);

function loadRegistry(): Map<string, Entry> {
  const map = new Map<string, Entry>();
  for (const line of fs.readFileSync(registryPath, 'utf8').split('\n')) {
    const m = /^\|\s*([0-9A-Z]{5})\s*\|\s*(\d{3})\s*\|\s*([a-z_]+)\s*\|/.exec(line);
    if (m) map.set(m[1], { status: Number(m[2]), code: m[3] });
  }
  return map;
}

export const domainErrors: ReadonlyMap<string, Entry> = loadRegistry();

// Postgres errors a caller's input can cause, for APIs that are not PostgREST-shaped.
const generic: Record<string, Entry> = {
  '22001': { status: 400, code: 'value_too_long' },
  '22003': { status: 400, code: 'numeric_out_of_range' },
  '22007': { status: 400, code: 'invalid_datetime' },
  '22008': { status: 400, code: 'invalid_datetime' },
  // A NUL byte: text cannot hold one (22021 as a parameter, 22P05 as `\u0000` inside json).
  '22021': { status: 400, code: 'invalid_text' },
  '22P05': { status: 400, code: 'invalid_text' },
  '22P02': { status: 400, code: 'invalid_input' },
  '23502': { status: 400, code: 'not_null_violation' },
  '23503': { status: 400, code: 'foreign_key_violation' },
  '23505': { status: 409, code: 'unique_violation' },
  '23514': { status: 400, code: 'check_violation' },
  '57014': { status: 504, code: 'statement_timeout' },
  '54000': { status: 400, code: 'program_limit_exceeded' },
  '54001': { status: 400, code: 'statement_too_complex' },
};

// Whole classes that only input causes: class 22 (data exception: a value Postgres cannot take — out of range,
// bad format, NUL byte, …) and class 54 (program limit: a value or statement too big or too deep for Postgres).
// Neither is the server's fault, so neither is ever a 500, whatever code inside the class a new case raises.
const byClass: Record<string, Entry> = {
  '22': { status: 400, code: 'invalid_input' },
  '54': { status: 400, code: 'program_limit_exceeded' },
};

export interface PgError { code?: string; message: string }

export function isPgError(err: unknown): err is PgError & { severity: string } {
  return typeof err === "object" && err !== null && "severity" in err && typeof (err as unknown as PgError).code === "string";
}

/** The HTTP form of a Postgres error raised by a platform function, or undefined if it is not a caller's fault. */
export function mapPgError(err: unknown): MappedError | undefined {
  if (!isPgError(err) || !err.code) return undefined;
  const entry = domainErrors.get(err.code) ?? generic[err.code] ?? byClass[err.code.slice(0, 2)];
  return entry && { status: entry.status, code: entry.code, message: err.message };
}

// Failures that say the database cannot be reached right now, not that a request was wrong: the server is down,
// restarting or shutting down (57P01–57P03, as when a project is paused or PostgreSQL stops), the connection
// was lost (class 08, pg's own "Connection terminated …"), or connections are exhausted (53300).
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/;

/** True when `err` means the database is unreachable or went away mid-request: each API answers 503 for it. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_SOCKET_CODES.has(code)) return true;
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  // pg's own connection errors carry no code, only a message (an AggregateError, for a host with several
  // addresses of which none answered, carries the socket code of each).
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return code === undefined && typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message);
}
