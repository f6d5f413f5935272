// `_headers` and `_redirects` (the Netlify / Cloudflare Pages formats), a bounded subset, parsed once at deploy
// time into JSON kept with the deploy, and compiled once per served deploy.
//  _redirects: `<from> <to> [status][!]` per line; `from` may use `:name` placeholders and end in `*` (the rest
//    is `:splat` in `to`); status 301 (default), 302, 303, 307, 308, 200 (a rewrite inside the deploy) or 404;
//    `!` applies the rule even when a file exists at `from`. `to` may be an http(s) URL for redirects only.
//  _headers: a path pattern on a line of its own (`*` matches anything, `:name` one segment), then indented
//    `Name: value` lines. Headers that would break HTTP framing or set cookies on a shared domain are dropped.
// Invalid lines are skipped, as both platforms do; past `maxRules` the rest is ignored.

export interface RedirectRule { from: string; to: string; status: number; force: boolean }
export interface HeaderRule { path: string; headers: [string, string][] }

const STATUSES = new Set([200, 301, 302, 303, 307, 308, 404]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const VALUE = /^[\t\x20-\x7e]{0,2000}$/;
const FORBIDDEN_HEADERS = new Set([
  'set-cookie', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'content-encoding',
  'content-range', 'etag', 'host', 'trailer', 'te', 'proxy-authenticate', 'www-authenticate', 'location', 'date',
]);
const PATTERN = /^\/[^\s]{0,1023}$/;

export function parseRedirects(text: string, maxRules: number): RedirectRule[] {
  const rules: RedirectRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (rules.length >= maxRules) break;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    if (parts.length < 2 || parts.length > 3) continue;
    const [from, to, statusText = '301'] = parts;
    const m = /^(\d{3})(!?)$/.exec(statusText);
    if (!m || !STATUSES.has(Number(m[1])) || !PATTERN.test(from)) continue;
    const status = Number(m[1]);
    const external = /^https?:\/\/[^\s/]+/.test(to);
    if (!(external ? status !== 200 && status !== 404 : PATTERN.test(to))) continue;
    rules.push({ from, to, status, force: m[2] === '!' });
  }
  return rules;
}

export function parseHeaders(text: string, maxRules: number): HeaderRule[] {
  const rules: HeaderRule[] = [];
  let current: HeaderRule | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (!raw.trim() || raw.trim().startsWith('#')) continue;
    if (!/^\s/.test(raw)) {
      current = undefined;
      if (rules.length >= maxRules) break;
      const path = raw.trim();
      if (PATTERN.test(path)) rules.push(current = { path, headers: [] });
      continue;
    }
    const m = /^\s+([^:\s]+)\s*:\s*(.*?)\s*$/.exec(raw);
    if (!current || !m || !TOKEN.test(m[1]) || !VALUE.test(m[2]) || current.headers.length >= 50) continue;
    if (FORBIDDEN_HEADERS.has(m[1].toLowerCase())) continue;
    current.headers.push([m[1], m[2]]);
  }
  return rules.filter((r) => r.headers.length > 0);
}

const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** A pattern as a regular expression with named groups (`:name` → one segment, trailing or `headers` `*`). */
function compile(pattern: string, anyStar: boolean): { re: RegExp; names: string[] } {
  const names: string[] = [];
  let src = '';
  for (let i = 0; i < pattern.length;) {
    const rest = pattern.slice(i);
    const placeholder = /^:([A-Za-z_][A-Za-z0-9_]{0,30})/.exec(rest);
    if (placeholder && (i === 0 || pattern[i - 1] === '/')) {
      names.push(placeholder[1]);
      src += '([^/]+)';
      i += placeholder[0].length;
    } else if (rest[0] === '*' && (anyStar || i === pattern.length - 1)) {
      names.push('splat');
      src += '(.*)';
      i++;
    } else {
      src += escape(rest[0]);
      i++;
    }
  }
  return { re: new RegExp(`^${src}$`), names };
}

export interface CompiledRedirect extends RedirectRule { match(path: string): string | undefined }
export interface CompiledHeaders { match(path: string): boolean; headers: [string, string][] }

export function compileRedirects(rules: RedirectRule[]): CompiledRedirect[] {
  return rules.map((r) => {
    const { re, names } = compile(r.from, false);
    return {
      ...r,
      match(path: string) {
        const m = re.exec(path);
        if (!m) return undefined;
        let to = r.to;
        names.forEach((n, i) => { to = to.split(`:${n}`).join(m[i + 1]); });
        return to;
      },
    };
  });
}

export function compileHeaders(rules: HeaderRule[]): CompiledHeaders[] {
  return rules.map((r) => {
    const { re } = compile(r.path, true);
    return { headers: r.headers, match: (path: string) => re.test(path) };
  });
}
