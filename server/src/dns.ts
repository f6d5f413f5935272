// Loam's own DNS lookups — a site's custom-domain challenge now, the email service's records later — through the
// resolvers the operator sets (LOAM_DNS_SERVERS, db/src/config.ts) or the system's, with a bound on the time a
// lookup may take and on what an answer may bring back (a hostile zone chooses both).
import { Resolver } from 'node:dns/promises';
import { dnsServers } from '../../db/src/config.ts';

/** Whole lookup, every server and retry included. */
export const DNS_TIMEOUT_MS = 4000;
/** At most this many records of an answer are read, each cut at this many characters. */
export const DNS_MAX_RECORDS = 32;
export const DNS_MAX_RECORD_CHARS = 2048;

/** DNS gave no usable answer (timeout, server failure, refused): not the same as "no such record". */
export class DnsLookupFailed extends Error {
  readonly code: string;
  constructor(name: string, code: string) {
    super(`the DNS lookup of ${name} failed (${code})`);
    this.code = code;
  }
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** One lookup through the operator's resolvers (LOAM_DNS_SERVERS): c-ares' own per-try timeout and retries, and a
 *  hard stop over all of them; [] when the name or the record type does not exist; DnsLookupFailed when DNS does
 *  not answer within the time bound. */
async function lookup<T>(name: string, timeoutMs: number, ask: (resolver: Resolver) => Promise<T[]>): Promise<T[]> {
  if (!HOSTNAME.test(name)) throw new Error(`not a DNS name: ${name}`);
  const servers = dnsServers();
  const resolver = new Resolver({ timeout: Math.max(100, Math.floor(timeoutMs / 4)), tries: 2 });
  if (servers) resolver.setServers(servers);
  const timer = setTimeout(() => resolver.cancel(), timeoutMs);
  try {
    return (await ask(resolver)).slice(0, DNS_MAX_RECORDS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
    throw new DnsLookupFailed(name, code === 'ECANCELLED' ? 'ETIMEOUT' : code);
  } finally {
    clearTimeout(timer);
  }
}

/** The TXT records at `name`, each one's strings joined (RFC 7208 §3.3). */
export async function lookupTxt(name: string, timeoutMs = DNS_TIMEOUT_MS): Promise<string[]> {
  const records = await lookup(name, timeoutMs, (r) => r.resolveTxt(name));
  return records.map((strings) => strings.join('').slice(0, DNS_MAX_RECORD_CHARS));
}

/** The MX records at `name` (exchange without its trailing dot, lowercase). */
export async function lookupMx(name: string, timeoutMs = DNS_TIMEOUT_MS): Promise<{ exchange: string; priority: number }[]> {
  const records = await lookup(name, timeoutMs, (r) => r.resolveMx(name));
  return records.map((r) => ({ exchange: r.exchange.replace(/\.$/, '').toLowerCase().slice(0, 253), priority: r.priority }));
}
