// Stage 1: an HTTP request becomes an ApiRequest value — target, select tree, filters, logic trees, order,
// ranges, preferences, payload — with no database access. Malformed input fails here as PGRST100 (query
// string), PGRST102 (body), PGRST103 (range) or PGRST107 (media type), in PostgREST's words.
import { tooDeep, tooDeepMessage } from '../json-depth.ts';
import { restErrors } from './errors.ts';

export interface JsonOp { arrow: '->' | '->>'; key: string }
export interface Field { name: string; json: JsonOp[] }
export type AggName = 'count' | 'sum' | 'avg' | 'min' | 'max';

export type SelectItem =
  | { kind: 'star' }
  | { kind: 'column'; field: Field; alias?: string; cast?: string; aggregate?: AggName; aggCast?: string }
  | { kind: 'count'; alias?: string; cast?: string }
  | { kind: 'embed'; name: string; alias?: string; hint?: string; join?: 'inner' | 'left'; spread: boolean; select: SelectItem[] };

export type Op = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'like' | 'ilike' | 'match' | 'imatch' | 'in' | 'is' |
  'isdistinct' | 'fts' | 'plfts' | 'phfts' | 'wfts' | 'cs' | 'cd' | 'ov' | 'sl' | 'sr' | 'nxr' | 'nxl' | 'adj';
export interface Operation { negated: boolean; op: Op; quant?: 'any' | 'all'; lang?: string; value: string | string[] }
export interface Filter { field: Field; operation: Operation }
export type LogicNode = { kind: 'filter'; filter: Filter } | LogicTree;
export interface LogicTree { kind: 'and' | 'or'; negated: boolean; children: LogicNode[] }
export interface OrderTerm { relation?: string; field: Field; dir?: 'asc' | 'desc'; nulls?: 'first' | 'last' }

/** Per embed path ('' is the root, 'a.b' an embedded resource): its filters, trees, order and range. */
export interface Scope {
  filters: Filter[];
  trees: LogicTree[];
  order: OrderTerm[];
  limit?: number;
  offset?: number;
}

export interface Preferences {
  return?: 'minimal' | 'headers-only' | 'representation';
  count?: 'exact' | 'planned' | 'estimated';
  resolution?: 'merge-duplicates' | 'ignore-duplicates';
  missing?: 'default' | 'null';
  tx?: 'commit' | 'rollback';
  handling?: 'strict' | 'lenient';
  maxAffected?: number;
  timezone?: string;
  /** The preferences PostgREST did not understand (for handling=strict). */
  invalid: string[];
  /** The preferences that were honoured, for Preference-Applied. */
  applied: string[];
}

export type Action = 'read' | 'head' | 'insert' | 'update' | 'delete' | 'upsert' | 'rpc' | 'openapi' | 'options';
export type MediaType = 'json' | 'object' | 'csv' | 'text' | 'stripped' | 'object-stripped' | 'openapi' | 'geojson';

export interface ApiRequest {
  action: Action;
  method: string;
  /** Table, view or function name ('' for the root). */
  target: string;
  schema: string;
  select: SelectItem[];
  scopes: Map<string, Scope>;
  /** GET /rpc/fn query arguments (params that are not filters), in order. */
  rpcArgs: [string, string][];
  columns?: string[];
  onConflict?: string[];
  prefer: Preferences;
  accept: MediaType;
  /** The raw body; the planner parses it against the target. */
  body?: unknown;
  contentType: string;
  /** From the Range header (offset, limit). */
  range?: { offset: number; limit?: number };
  readOnly: boolean;
  /** Set by the handler from the project's settings. */
  aggregatesEnabled?: boolean;
  /** `Accept: application/vnd.pgrst.plan[+json|+text]; for="…"; options=…`: answer with the statement's plan. */
  plan?: PlanRequest;
}

export interface PlanRequest { format: 'json' | 'text'; options: string[]; mime: string }

const PLAN_OPTIONS = ['analyze', 'verbose', 'settings', 'buffers', 'wal'];
const MIME: Partial<Record<MediaType, string>> = {
  json: 'application/json', stripped: 'application/vnd.pgrst.array+json;nulls=stripped', object: 'application/vnd.pgrst.object+json',
  'object-stripped': 'application/vnd.pgrst.object+json;nulls=stripped', csv: 'text/csv', text: 'text/plain', geojson: 'application/geo+json',
};

/** The plan media type, read as PostgREST reads it: `for` names the media type planned for (JSON when absent),
 *  `options` any of analyze|verbose|settings|buffers|wal, listed back in that order. */
function parsePlan(t: string, action: Action): { type: MediaType; plan: PlanRequest } | undefined {
  const [base, ...params] = t.split(';');
  const m = /^application\/vnd\.pgrst\.plan(\+json|\+text)?$/i.exec(base.trim());
  if (!m) return undefined;
  const p: Record<string, string> = {};
  for (const x of params) {
    const i = x.indexOf('=');
    if (i > 0) p[x.slice(0, i).trim().toLowerCase()] = x.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  const type = p.for ? parseAccept(p.for, action) : 'json';
  const given = (p.options ?? '').split('|');
  const options = PLAN_OPTIONS.filter((o) => given.includes(o));
  const format = m[1]?.toLowerCase() === '+json' ? 'json' : 'text';
  const mime = `application/vnd.pgrst.plan+${format}; for="${MIME[type] ?? 'application/json'}"${options.length ? `; options=${options.join('|')}` : ''}`;
  return { type, plan: { format, options, mime } };
}

const OPS = new Set<string>(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch', 'in', 'is',
  'isdistinct', 'fts', 'plfts', 'phfts', 'wfts', 'cs', 'cd', 'ov', 'sl', 'sr', 'nxr', 'nxl', 'adj']);
const QUANTIFIABLE = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch']);
const FTS = new Set(['fts', 'plfts', 'phfts', 'wfts']);
const AGGS = new Set(['count', 'sum', 'avg', 'min', 'max']);

const qpError = (what: string, input: string, col: number, details: string) =>
  restErrors.parse(`"failed to parse ${what} (${input})" (line 1, column ${col + 1})`, details);

// How deep embeds (`select=a(b(c))`) and logic trees (`or=(and(…))`) may nest. The parsers, planner and SQL
// builder below recurse once per level: without a bound, a few thousand levels in a URL overflow the stack.
const MAX_NESTING = 64;
const NESTED = new Set(['select parameter', 'logic tree']);

/** A cursor over one query-string value, for the small parsers below. */
class Cursor {
  pos = 0;
  readonly s: string;
  readonly what: string;
  constructor(s: string, what: string) {
    this.s = s;
    this.what = what;
    if (NESTED.has(what)) this.checkNesting();
  }
  /** Refuses nesting deeper than MAX_NESTING before any recursive parse starts (parentheses in quotes count
   *  too: erring towards refusing a value no real request sends). */
  private checkNesting() {
    let depth = 0;
    for (let i = 0; i < this.s.length; i++) {
      const c = this.s.charCodeAt(i);
      if (c === 40 /* ( */ && ++depth > MAX_NESTING) {
        throw qpError(this.what, this.s, i, `nesting deeper than ${MAX_NESTING} levels`);
      } else if (c === 41 /* ) */) depth--;
    }
  }
  get done() { return this.pos >= this.s.length; }
  peek(n = 1) { return this.s.slice(this.pos, this.pos + n); }
  eat(t: string): boolean {
    if (this.s.startsWith(t, this.pos)) { this.pos += t.length; return true; }
    return false;
  }
  fail(expecting: string): never {
    const unexpected = this.done ? 'end of input' : `"${this.s[this.pos]}"`;
    throw qpError(this.what, this.s, this.pos, `unexpected ${unexpected} expecting ${expecting}`);
  }
  expect(t: string) { if (!this.eat(t)) this.fail(`"${t}"`); }
  /** A field name: letters, digits, `_`, `$`, spaces and dashes not starting `->`; or a double-quoted name. */
  name(): string {
    if (this.peek() === '"') return this.quoted();
    const start = this.pos;
    while (!this.done) {
      const c = this.s[this.pos];
      if (c === '-' && this.s[this.pos + 1] === '>') break;
      if (/[\p{L}\p{N}_$ -]/u.test(c)) this.pos++;
      else break;
    }
    if (this.pos === start) this.fail('field name');
    return this.s.slice(start, this.pos).trim() || this.fail('field name');
  }
  quoted(): string {
    this.expect('"');
    let out = '';
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === '\\' && this.pos + 1 < this.s.length) this.pos++;
      out += this.s[this.pos++];
    }
    this.expect('"');
    return out;
  }
  jsonPath(): JsonOp[] {
    const path: JsonOp[] = [];
    for (;;) {
      let arrow: JsonOp['arrow'];
      if (this.eat('->>')) arrow = '->>';
      else if (this.eat('->')) arrow = '->';
      else return path;
      let key: string;
      if (this.peek() === '"') key = this.quoted();
      else {
        const m = /^-?[\p{L}\p{N}_$ ]+/u.exec(this.s.slice(this.pos));
        if (!m) this.fail('key');
        key = m[0];
        this.pos += key.length;
      }
      path.push({ arrow, key });
    }
  }
  field(): Field { return { name: this.name(), json: this.jsonPath() }; }
  cast(): string | undefined {
    if (!this.eat('::')) return undefined;
    const m = /^[A-Za-z_][A-Za-z0-9_]*(\[\])?/.exec(this.s.slice(this.pos));
    if (!m) this.fail('cast type');
    this.pos += m[0].length;
    return m[0];
  }
}

// ---- select ---------------------------------------------------------------------------------------------

export function parseSelect(s: string): SelectItem[] {
  const c = new Cursor(s, 'select parameter');
  const items = selectList(c, false);
  if (!c.done) c.fail('"," or end of input');
  return items;
}

function selectList(c: Cursor, nested: boolean): SelectItem[] {
  const items: SelectItem[] = [];
  if (nested && c.peek() === ')') return items;
  do {
    items.push(selectItem(c));
  } while (c.eat(','));
  return items;
}

function selectItem(c: Cursor): SelectItem {
  if (c.eat('*')) return { kind: 'star' };
  if (c.eat('...')) {
    const e = embedTail(c, c.name());
    return { ...e, spread: true };
  }
  // [alias:] name ...
  const first = c.field();
  let alias: string | undefined;
  let field = first;
  if (first.json.length === 0 && c.peek() === ':' && c.peek(2) !== '::') {
    c.pos++;
    alias = first.name;
    if (c.eat('...')) c.fail('field name');
    field = c.field();
  }
  if (field.json.length === 0 && field.name === 'count' && c.eat('()')) {
    return { kind: 'count', alias, cast: c.cast() };
  }
  if (field.json.length === 0 && (c.peek() === '(' || c.peek() === '!')) {
    return { ...embedTail(c, field.name), alias, spread: false };
  }
  const cast = c.cast();
  let aggregate: AggName | undefined;
  let aggCast: string | undefined;
  if (c.peek() === '.') {
    const m = /^\.(count|sum|avg|min|max)\(\)/.exec(c.s.slice(c.pos));
    if (!m) c.fail('aggregate function');
    c.pos += m[0].length;
    aggregate = m[1] as AggName;
    aggCast = c.cast();
  }
  return { kind: 'column', field, alias, cast, aggregate, aggCast };
}

function embedTail(c: Cursor, name: string): Extract<SelectItem, { kind: 'embed' }> {
  let hint: string | undefined;
  let join: 'inner' | 'left' | undefined;
  while (c.eat('!')) {
    const h = c.name();
    if (h === 'inner' || h === 'left') join = h;
    else hint = h;
  }
  c.expect('(');
  const select = selectList(c, true);
  c.expect(')');
  return { kind: 'embed', name, hint, join, spread: false, select };
}

// ---- filters and logic trees ----------------------------------------------------------------------------

/** `[not.]op[(any|all)|(lang)].value` */
export function parseOperation(v: string, what = 'filter'): Operation {
  const c = new Cursor(v, what);
  return operation(c, false);
}

function operation(c: Cursor, inTree: boolean): Operation {
  const negated = c.eat('not.');
  const m = /^[a-z]+/.exec(c.s.slice(c.pos));
  if (!m || !OPS.has(m[0])) c.fail('"not" or operator (eq, gt, ...)');
  const op = m[0] as Op;
  c.pos += op.length;
  let quant: Operation['quant'];
  let lang: string | undefined;
  if (c.peek() === '(') {
    if (QUANTIFIABLE.has(op) && (c.eat('(any)') || c.eat('(all)'))) quant = c.s.slice(c.pos - 4, c.pos - 1) as 'any' | 'all';
    else if (FTS.has(op)) {
      c.pos++;
      const l = /^[A-Za-z0-9_]+/.exec(c.s.slice(c.pos));
      if (!l) c.fail('language');
      lang = l[0];
      c.pos += lang.length;
      c.expect(')');
    } else c.fail('"."');
  }
  c.expect('.');
  const valueStart = c.pos;
  const raw = inTree ? treeValue(c) : c.s.slice(c.pos);
  const valueEnd = inTree ? c.pos : c.s.length;
  c.pos = valueStart; // errors in the value point at its start
  if (op === 'in') { const value = listValue(raw, c); c.pos = valueEnd; return { negated, op, value }; }
  if (op === 'is') {
    if (!/^(null|not_null|true|false|unknown)$/i.test(raw)) c.fail('null or trilean value (unknown, true, false)');
    c.pos = valueEnd;
    return { negated, op, value: raw.toLowerCase() };
  }
  if (quant && !/^\{.*\}$/s.test(raw)) c.fail('"{"');
  c.pos = valueEnd;
  return { negated, op, quant, lang, value: inTree ? unquote(raw) : raw };
}

const unquote = (s: string) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s);

/** `(a,b,"c,d")` → ['a','b','c,d'] */
function listValue(raw: string, c: Cursor): string[] {
  if (!raw.startsWith('(') || !raw.endsWith(')')) c.fail('"("');
  const inner = raw.slice(1, -1);
  const out: string[] = [];
  if (inner === '') return out;
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (quoted) {
      if (ch === '\\' && i + 1 < inner.length) cur += inner[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') { quoted = true; wasQuoted = true; }
    else if (ch === ',') { out.push(wasQuoted ? cur : cur.trim()); cur = ''; wasQuoted = false; }
    else cur += ch;
  }
  if (quoted) c.fail('"\\""');
  out.push(wasQuoted ? cur : cur.trim());
  return out;
}

/** A value inside a logic tree runs to the next top-level `,` or `)`; parens and double quotes nest. */
function treeValue(c: Cursor): string {
  const start = c.pos;
  let depth = 0;
  let quoted = false;
  while (!c.done) {
    const ch = c.s[c.pos];
    if (quoted) {
      if (ch === '\\') c.pos++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '(' || ch === '{' || ch === '[') depth++;
    else if ((ch === ')' || ch === '}' || ch === ']') && depth > 0) depth--;
    else if ((ch === ',' || ch === ')') && depth === 0) break;
    c.pos++;
  }
  return c.s.slice(start, c.pos);
}

export function parseLogicTree(kind: 'and' | 'or', negated: boolean, v: string): LogicTree {
  const c = new Cursor(v, 'logic tree');
  c.expect('(');
  const tree = { kind, negated, children: logicChildren(c) };
  c.expect(')');
  if (!c.done) c.fail('end of input');
  return tree;
}

function logicChildren(c: Cursor): LogicNode[] {
  const out: LogicNode[] = [];
  do {
    const negated = c.eat('not.');
    const m = /^(and|or)\(/.exec(c.s.slice(c.pos));
    if (m) {
      c.pos += m[1].length + 1;
      out.push({ kind: m[1] as 'and' | 'or', negated, children: logicChildren(c) });
      c.expect(')');
      continue;
    }
    if (negated) c.pos -= 4;
    const field = c.field();
    c.expect('.');
    out.push({ kind: 'filter', filter: { field, operation: operation(c, true) } });
  } while (c.eat(','));
  return out;
}

// ---- order ----------------------------------------------------------------------------------------------

export function parseOrder(v: string): OrderTerm[] {
  const c = new Cursor(v, 'order');
  const terms: OrderTerm[] = [];
  do {
    let field = c.field();
    let relation: string | undefined;
    if (field.json.length === 0 && c.eat('(')) {
      relation = field.name;
      field = c.field();
      c.expect(')');
    }
    const t: OrderTerm = { relation, field };
    if (c.eat('.asc')) t.dir = 'asc';
    else if (c.eat('.desc')) t.dir = 'desc';
    if (c.eat('.nullsfirst')) t.nulls = 'first';
    else if (c.eat('.nullslast')) t.nulls = 'last';
    if (!c.done && c.peek() !== ',') c.fail('"," or end of input');
    terms.push(t);
  } while (c.eat(','));
  return terms;
}

function parseColumns(v: string, what: string): string[] {
  const c = new Cursor(v, what);
  const out: string[] = [];
  do out.push(c.name()); while (c.eat(','));
  if (!c.done) c.fail('"," or end of input');
  return out;
}

function parseNonNeg(v: string, what: string): number {
  if (!/^\d+$/.test(v)) {
    const c = new Cursor(v, what);
    c.fail('digit');
  }
  // Past 2^53 a JavaScript number is no longer the integer that was sent: refused rather than rounded.
  if (!Number.isSafeInteger(Number(v))) throw qpError(what, v, 0, `out of range: the maximum is ${Number.MAX_SAFE_INTEGER}`);
  return Number(v);
}

// ---- headers --------------------------------------------------------------------------------------------

const PREFS: Record<string, readonly string[]> = {
  return: ['minimal', 'headers-only', 'representation'],
  count: ['exact', 'planned', 'estimated'],
  resolution: ['merge-duplicates', 'ignore-duplicates'],
  missing: ['default', 'null'],
  tx: ['commit', 'rollback'],
  handling: ['strict', 'lenient'],
};

export function parsePrefer(headers: string[]): Preferences {
  const prefs: Preferences = { invalid: [], applied: [] };
  for (const header of headers) {
    for (const token of header.split(',').map((t) => t.trim()).filter(Boolean)) {
      const [k, v = ''] = token.split('=').map((x) => x.trim());
      if (PREFS[k]?.includes(v)) (prefs as unknown as Record<string, string>)[k] ??= v;
      else if (k === 'max-affected' && /^\d+$/.test(v)) prefs.maxAffected ??= Number(v);
      else if (k === 'timezone' && v) prefs.timezone ??= v;
      else if (k === 'params' && v === 'single-object') { /* obsolete, accepted */ }
      else prefs.invalid.push(token);
    }
  }
  return prefs;
}

function parseAccept(accept: string | undefined, action: Action): MediaType {
  if (!accept) return action === 'openapi' ? 'openapi' : 'json';
  const types = accept.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of types) {
    const [base, ...params] = t.split(';').map((x) => x.trim().toLowerCase());
    const stripped = params.includes('nulls=stripped');
    switch (base) {
      case '*/*': case 'application/*': case 'application/json':
        return action === 'openapi' ? 'openapi' : stripped ? 'stripped' : 'json';
      case 'application/vnd.pgrst.array+json': case 'application/vnd.pgrst.array':
        return stripped ? 'stripped' : 'json';
      case 'application/vnd.pgrst.object+json': case 'application/vnd.pgrst.object':
        return stripped ? 'object-stripped' : 'object';
      case 'text/csv': return 'csv';
      // PostGIS' ST_AsGeoJSON renders it; without PostGIS the statement fails as PostgREST's does (42883).
      case 'application/geo+json': return 'geojson';
      case 'text/plain': if (action === 'rpc') return 'text'; break;
      case 'application/openapi+json': if (action === 'openapi') return 'openapi'; break;
    }
  }
  throw restErrors.mediaType(types.map((t) => t.split(';')[0].trim()));
}

/** `Range: 0-9` (items) → offset and limit. */
function parseRange(h: string | undefined): ApiRequest['range'] {
  if (!h) return undefined;
  const m = /^(?:items=)?\s*(\d+)-(\d*)\s*$/.exec(h.trim());
  if (!m) return undefined; // PostgREST ignores a Range it cannot read
  const from = Number(m[1]);
  if (m[2] === '') return { offset: from };
  const to = Number(m[2]);
  if (to < from) throw restErrors.range('The lower boundary must be lower than or equal to the upper boundary in the Range header.');
  return { offset: from, limit: to - from + 1 };
}

// ---- the request ----------------------------------------------------------------------------------------

export interface RawRequest {
  method: string;
  /** Path below /rest/v1, e.g. `/items` or `/rpc/fn` or `/`. */
  path: string;
  /** The raw query string (without `?`). */
  query: string;
  header(name: string): string | undefined;
  headerAll(name: string): string[];
  body?: Buffer;
}

function scope(scopes: Map<string, Scope>, path: string): Scope {
  let s = scopes.get(path);
  if (!s) scopes.set(path, s = { filters: [], trees: [], order: [] });
  return s;
}

/** Splits `a.b.col` into the embed path `a.b` and the last segment. JSON arrows stay with the last segment. */
function splitPath(k: string): [string, string] {
  const arrow = k.indexOf('->');
  const head = arrow >= 0 ? k.slice(0, arrow) : k;
  const dot = head.lastIndexOf('.');
  if (dot < 0) return ['', k];
  return [k.slice(0, dot), k.slice(dot + 1)];
}

export function parseRequest(raw: RawRequest, exposedSchemas: string[]): ApiRequest {
  const method = raw.method.toUpperCase();
  const segments = raw.path.split('/').filter(Boolean).map((s) => {
    try { return decodeURIComponent(s); } catch { throw restErrors.path(); }
  });
  let action: Action;
  let target = '';
  const isRpc = segments.length === 2 && segments[0] === 'rpc';
  if (segments.length === 0) {
    if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') throw restErrors.method(method);
    action = method === 'OPTIONS' ? 'options' : 'openapi';
  } else if (segments.length === 1 || isRpc) {
    target = segments[segments.length - 1];
    if (isRpc) {
      if (!['GET', 'HEAD', 'POST', 'OPTIONS'].includes(method)) throw restErrors.rpcMethod(method);
      action = method === 'OPTIONS' ? 'options' : 'rpc';
    } else {
      switch (method) {
        case 'GET': action = 'read'; break;
        case 'HEAD': action = 'head'; break;
        case 'POST': action = 'insert'; break;
        case 'PATCH': action = 'update'; break;
        case 'PUT': action = 'upsert'; break;
        case 'DELETE': action = 'delete'; break;
        case 'OPTIONS': action = 'options'; break;
        default: throw restErrors.method(method);
      }
    }
  } else throw restErrors.path();

  const writing = ['insert', 'update', 'upsert', 'delete'].includes(action) || (action === 'rpc' && method === 'POST');
  const profileHeader = writing ? raw.header('content-profile') : raw.header('accept-profile');
  const schema = profileHeader ?? exposedSchemas[0];
  if (!exposedSchemas.includes(schema)) throw restErrors.schema(schema, exposedSchemas);

  const req: ApiRequest = {
    action, method, target, schema, select: [{ kind: 'star' }], scopes: new Map(), rpcArgs: [],
    prefer: parsePrefer(raw.headerAll('prefer')),
    accept: 'json',
    contentType: (raw.header('content-type') ?? 'application/json').split(';')[0].trim().toLowerCase(),
    range: (method === 'GET' || method === 'HEAD') ? parseRange(raw.header('range')) : undefined,
    readOnly: method === 'GET' || method === 'HEAD',
  };
  const accept = raw.header('accept');
  const plan = accept ? parsePlan(accept.split(',')[0], action) : undefined;
  if (plan) { req.accept = plan.type; req.plan = plan.plan; } else req.accept = parseAccept(accept, action);
  scope(req.scopes, '');
  const isRpcRead = action === 'rpc' && req.readOnly;

  for (const part of raw.query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const dec = (s: string) => {
      try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { throw restErrors.parse('"failed to parse query string"', `invalid percent-encoding in ${JSON.stringify(s)}`); }
    };
    const k = dec(eq < 0 ? part : part.slice(0, eq));
    const v = dec(eq < 0 ? '' : part.slice(eq + 1));
    const [path, last] = splitPath(k);
    if (k === 'select') { req.select = parseSelect(v); continue; }
    if (k === 'columns') { req.columns = parseColumns(v, 'columns parameter'); continue; }
    if (k === 'on_conflict') { req.onConflict = parseColumns(v, 'on_conflict parameter'); continue; }
    if (last === 'order') { scope(req.scopes, path).order.push(...parseOrder(v)); continue; }
    if (last === 'limit') { scope(req.scopes, path).limit = parseNonNeg(v, 'limit'); continue; }
    if (last === 'offset') { scope(req.scopes, path).offset = parseNonNeg(v, 'offset'); continue; }
    const logic = logicKey(k);
    if (logic && !(isRpcRead && !v.startsWith('('))) {
      scope(req.scopes, logic.path).trees.push(parseLogicTree(logic.kind, logic.negated, v));
      continue;
    }
    if (isRpcRead && path === '' && !looksLikeFilter(v)) { req.rpcArgs.push([k, v]); continue; }
    const fc = new Cursor(last, 'filter');
    const field = fc.field();
    if (!fc.done) fc.fail('end of input');
    scope(req.scopes, path).filters.push({ field, operation: parseOperation(v) });
  }

  if (raw.body && raw.body.length && writing) req.body = parseBody(raw.body, req.contentType, action);
  return req;
}

/** `or`, `not.and`, `authors.or`, `authors.not.or` → the embed path, negation and kind. */
function logicKey(k: string): { path: string; negated: boolean; kind: 'and' | 'or' } | undefined {
  const m = /(^|\.)(and|or)$/.exec(k);
  if (!m) return undefined;
  let rest = k.slice(0, m.index);
  let negated = false;
  if (rest === 'not' || rest.endsWith('.not')) { negated = true; rest = rest.slice(0, -3).replace(/\.$/, ''); }
  return { path: rest, negated, kind: m[2] as 'and' | 'or' };
}

function looksLikeFilter(v: string): boolean {
  const m = /^(?:not\.)?([a-z]+)(?:\([a-z0-9_]+\))?\./.exec(v);
  return !!m && OPS.has(m[1]);
}

function parseBody(buf: Buffer, contentType: string, action: Action): unknown {
  const text = buf.toString('utf8');
  switch (contentType) {
    case 'application/json': case 'application/vnd.pgrst.object+json': case 'application/vnd.pgrst.object': case '':
      // Deeper than this overflows the stack of what handles the value after parsing (a 500 otherwise).
      if (tooDeep(buf)) throw restErrors.invalidBody(tooDeepMessage());
      try { return JSON.parse(text); } catch { throw restErrors.invalidBody('Empty or invalid json'); }
    case 'text/csv': return parseCsv(text);
    case 'application/x-www-form-urlencoded':
      return Object.fromEntries(new URLSearchParams(text));
    case 'text/plain': case 'text/xml': case 'application/octet-stream':
      if (action === 'rpc') return { __raw: contentType === 'application/octet-stream' ? buf : text };
  }
  throw restErrors.mediaType([contentType]);
}

/** RFC 4180 CSV with a header row → array of objects; the literal NULL is SQL null, as in PostgREST. */
function parseCsv(text: string): Record<string, string | null>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cur); cur = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cur); rows.push(row); row = []; cur = '';
    } else cur += ch;
  }
  if (cur !== '' || row.length) { row.push(cur); rows.push(row); }
  const [header, ...data] = rows;
  if (!header) throw restErrors.invalidBody('Empty or invalid csv');
  return data.map((r) => {
    if (r.length !== header.length) throw restErrors.invalidBody('All lines must have same number of fields');
    return Object.fromEntries(header.map((h, j) => [h, r[j] === 'NULL' ? null : r[j]]));
  });
}
