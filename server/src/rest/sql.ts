// The one small SQL compiler of the REST API: identifiers go only through `ident`, values only through
// `SqlBuilder.param` (as $n). Everything a caller types reaches Postgres as a parameter or a quoted identifier.

/** Quotes an identifier the way Postgres does: wrap in double quotes, double any inner double quote. */
export function ident(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains NUL');
  return '"' + name.replace(/"/g, '""') + '"';
}

/** A schema-qualified name. */
export function qi(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/** Collects parameters; `param(v)` returns the placeholder. Text parameters let Postgres infer or cast types. */
export class SqlBuilder {
  readonly params: unknown[] = [];
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
}

export interface CompiledSql { text: string; params: unknown[] }
