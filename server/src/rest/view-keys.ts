// Which base-table column each view column shows, read from the view's stored rewrite rule, and the keys and
// relationships views take over from their base tables (PostgREST infers them the same way). A view that
// renames key columns, shows a subset of them, or is built on another view still gets its primary key and its
// foreign keys, to tables and to other views, under its own column names.
import type { ForeignKey, Table } from './schema-cache.ts';

/** A view's `_RETURN` rule as stored (`pg_rewrite.ev_action::text`), with the relation's identity. */
export interface RawView { oid: number; schema: string; name: string; rule: string }
/** Any user relation: its columns by attribute number (rules name base columns by number). */
export interface RawRelation { oid: number; schema: string; name: string; cols: Record<string, string> }
/** A primary key of any user table (base tables of exposed views may live in other schemas). */
export interface RawPk { schema: string; table: string; columns: string[] }

// ---- pg_node_tree --------------------------------------------------------------------------------------
// The text form Postgres stores rules in: `{NODE :field value ...}` nodes, `( ... )` lists, `<>` for null,
// bare tokens in which a backslash escapes the next character.

type NodeValue = string | null | NodeValue[] | TreeNode;
interface TreeNode { node: string; fields: Map<string, NodeValue> }

function tokenize(s: string): { text: string; escaped: boolean }[] {
  const out: { text: string; escaped: boolean }[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r') { i++; continue; }
    if (ch === '(' || ch === ')' || ch === '{' || ch === '}') { out.push({ text: ch, escaped: false }); i++; continue; }
    if (ch === '<' && s[i + 1] === '>') { out.push({ text: '<>', escaped: false }); i += 2; continue; }
    let text = '';
    let escaped = false;
    while (i < s.length && !' \n\t\r(){}'.includes(s[i])) {
      if (s[i] === '\\' && i + 1 < s.length) { text += s[i + 1]; i += 2; escaped = true; } else text += s[i++];
    }
    out.push({ text, escaped });
  }
  return out;
}

function parseTree(s: string): NodeValue {
  const toks = tokenize(s);
  let p = 0;
  const value = (): NodeValue => {
    const t = toks[p++];
    if (!t) throw new Error('unexpected end of node tree');
    if (t.escaped) return t.text;
    if (t.text === '<>') return null;
    if (t.text === '(') {
      const list: NodeValue[] = [];
      while (toks[p] && !(toks[p].text === ')' && !toks[p].escaped)) list.push(value());
      p++;
      return list;
    }
    if (t.text === '{') {
      const node: TreeNode = { node: toks[p++].text, fields: new Map() };
      while (toks[p] && !(toks[p].text === '}' && !toks[p].escaped)) {
        const k = toks[p++];
        // A field is one value, except a constant's datum: `<length> [ bytes ]` (or `<>` when null).
        if (k.text === ':constvalue' && toks[p]?.text !== '<>') {
          while (toks[p] && toks[p].text !== ']') p++;
          p++;
          node.fields.set(k.text, null);
        } else node.fields.set(k.text, value());
      }
      p++;
      return node;
    }
    return t.text;
  };
  return value();
}

/** The (column number → base relation oid, base attribute number) origins of a view's output columns. */
function columnOrigins(rule: string): Map<number, { rel: number; att: number }> {
  const out = new Map<number, { rel: number; att: number }>();
  const tree = parseTree(rule);
  const query = Array.isArray(tree) ? tree[0] : tree;
  if (!query || typeof query !== 'object' || Array.isArray(query)) return out;
  const targets = query.fields.get(':targetList');
  if (!Array.isArray(targets)) return out;
  for (const te of targets) {
    if (!te || typeof te !== 'object' || Array.isArray(te)) continue;
    const num = (k: string) => Number(te.fields.get(k) ?? 0);
    if (te.fields.get(':resjunk') === 'true' || !num(':resorigtbl')) continue;
    out.set(num(':resno'), { rel: num(':resorigtbl'), att: num(':resorigcol') });
  }
  return out;
}

// ---- keys and relationships -------------------------------------------------------------------------------

const k = (schema: string, name: string) => `${schema}.${name}`;

/**
 * For each view: base table (schema.name) → base column → the view's columns showing it (a column may be shown
 * several times under different names). Views over views are followed down to the tables.
 */
function viewDependencies(views: RawView[], relations: RawRelation[]): Map<string, Map<string, Map<string, string[]>>> {
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const origins = new Map<number, Map<number, { rel: number; att: number }>>();
  for (const v of views) {
    try { origins.set(v.oid, columnOrigins(v.rule)); } catch { origins.set(v.oid, new Map()); } // unreadable rule: no keys
  }
  // Follow a view column down through views to a table column (bounded: rules cannot really cycle).
  const resolve = (rel: number, att: number): { rel: number; att: number } | undefined => {
    for (let depth = 0; depth < 32; depth++) {
      const o = origins.get(rel);
      if (!o) return { rel, att };
      const next = o.get(att);
      if (!next) return undefined;
      ({ rel, att } = next);
    }
    return undefined;
  };
  const out = new Map<string, Map<string, Map<string, string[]>>>();
  for (const v of views) {
    const rel = byOid.get(v.oid);
    if (!rel) continue;
    const deps = new Map<string, Map<string, string[]>>();
    for (const [resno, o] of origins.get(v.oid)!) {
      const viewCol = rel.cols[String(resno)];
      const base = resolve(o.rel, o.att);
      const table = base && byOid.get(base.rel);
      const baseCol = table?.cols[String(base!.att)];
      if (!viewCol || !table || !baseCol) continue;
      const tk = k(table.schema, table.name);
      const cols = deps.get(tk) ?? new Map<string, string[]>();
      cols.set(baseCol, [...(cols.get(baseCol) ?? []), viewCol]);
      deps.set(tk, cols);
    }
    out.set(k(v.schema, v.name), deps);
  }
  return out;
}

/** Every way a view shows all of `columns` of a table (one choice per column when one is shown twice). */
function expansions(shown: Map<string, string[]>, columns: string[]): string[][] {
  let acc: string[][] = [[]];
  for (const c of columns) {
    const names = shown.get(c);
    if (!names) return [];
    acc = acc.flatMap((prefix) => names.map((n) => [...prefix, n])).slice(0, 64);
  }
  return acc;
}

/**
 * Gives exposed views the primary keys of the tables they show, and returns the foreign keys that views take
 * part in: view → table, table → view and view → view, for each foreign key whose columns a view shows.
 */
export function inferViewKeys(tables: Map<string, Table>, fks: ForeignKey[], views: RawView[], relations: RawRelation[], pks: RawPk[]): ForeignKey[] {
  const deps = viewDependencies(views, relations);
  // Views over a table, as (view, the table's columns shown by it) pairs; only exposed views are endpoints.
  const over = new Map<string, { view: Table; shown: Map<string, string[]> }[]>();
  for (const [vk, byTable] of deps) {
    const view = tables.get(vk);
    if (!view) continue;
    for (const [tk, shown] of byTable) over.set(tk, [...(over.get(tk) ?? []), { view, shown }]);
  }
  for (const pk of pks) {
    for (const { view, shown } of over.get(k(pk.schema, pk.table)) ?? []) {
      const [cols] = expansions(shown, pk.columns);
      // A view showing the keys of several tables (a join) takes all of them, as PostgREST does.
      if (cols && !view.pk.some((c) => cols.includes(c))) view.pk.push(...cols);
    }
  }
  for (const v of new Set([...over.values()].flat().map((x) => x.view))) if (v.pk.length && !v.uniques.length) v.uniques = [[...v.pk]];
  const out: ForeignKey[] = [];
  for (const fk of fks) {
    const sources = [{ schema: fk.schema, table: fk.table, columns: fk.columns, base: true }];
    for (const { view, shown } of over.get(k(fk.schema, fk.table)) ?? []) {
      for (const columns of expansions(shown, fk.columns)) sources.push({ schema: view.schema, table: view.name, columns, base: false });
    }
    const targets = [{ schema: fk.fschema, table: fk.ftable, columns: fk.fcolumns, base: true }];
    for (const { view, shown } of over.get(k(fk.fschema, fk.ftable)) ?? []) {
      for (const columns of expansions(shown, fk.fcolumns)) targets.push({ schema: view.schema, table: view.name, columns, base: false });
    }
    for (const s of sources) for (const t of targets) {
      if (s.base && t.base) continue;
      out.push({ ...fk, schema: s.schema, table: s.table, columns: s.columns, fschema: t.schema, ftable: t.table, fcolumns: t.columns });
    }
  }
  return out;
}
