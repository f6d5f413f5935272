// GET <project>/rest/v1/ : the OpenAPI (Swagger 2.0) description of the exposed schema, shaped as PostgREST's.
// Clients read `info.version` (the PostgREST version this API is compatible with) from it.
import type { Response } from 'express';
import type { ProjectRuntime } from '../../../db/src/projects.ts';
import type { Identity } from '../project/keys.ts';
import { schemaFor } from './execute.ts';
import type { ApiRequest } from './request.ts';
import type { Column, SchemaCache } from './schema-cache.ts';
import type { RestSettings } from './settings.ts';

/** The PostgREST release whose behaviour this API follows. */
export const POSTGREST_VERSION = '12.2.3';

function typeOf(pgType: string): { type: string; format: string; items?: object } {
  const base = pgType.replace(/\(.*\)/, '');
  if (base.endsWith('[]')) return { type: 'array', format: base, items: { type: typeOf(base.slice(0, -2)).type } };
  if (['integer', 'smallint', 'bigint'].includes(base)) return { type: 'integer', format: base };
  if (['numeric', 'real', 'double precision'].includes(base)) return { type: 'number', format: base };
  if (base === 'boolean') return { type: 'boolean', format: base };
  if (base === 'json' || base === 'jsonb') return { type: 'object' as string, format: base } as { type: string; format: string };
  return { type: 'string', format: base };
}

function property(c: Column, pk: string[]) {
  const notes: string[] = [];
  if (pk.includes(c.name)) notes.push('Note:\nThis is a Primary Key.<pk/>');
  const t = typeOf(c.type);
  return { ...(c.default ? { default: c.default } : {}), ...(notes.length ? { description: notes.join('\n') } : {}), format: t.format, type: t.type, ...(t.items ? { items: t.items } : {}) };
}

export function openapiDocument(cache: SchemaCache, schema: string, host: string, basePath: string) {
  const paths: Record<string, unknown> = { '/': { get: { produces: ['application/openapi+json', 'application/json'], responses: { 200: { description: 'OK' } }, summary: 'OpenAPI description (this document)', tags: ['Introspection'] } } };
  const definitions: Record<string, unknown> = {};
  for (const t of cache.tables.values()) {
    if (t.schema !== schema) continue;
    definitions[t.name] = {
      ...(t.comment ? { description: t.comment } : {}),
      required: t.columns.filter((c) => !c.nullable && c.default === null && !c.generated).map((c) => c.name),
      properties: Object.fromEntries(t.columns.map((c) => [c.name, property(c, t.pk)])),
      type: 'object',
    };
    const ref = { $ref: `#/definitions/${t.name}` };
    const ops: Record<string, unknown> = {
      get: { tags: [t.name], ...(t.comment ? { summary: t.comment } : {}), responses: { 200: { description: 'OK', schema: { type: 'array', items: ref } }, 206: { description: 'Partial Content' } } },
    };
    if (t.insertable) {
      ops.post = { tags: [t.name], responses: { 201: { description: 'Created' } }, parameters: [{ in: 'body', name: t.name, required: false, schema: ref }] };
      ops.patch = { tags: [t.name], responses: { 204: { description: 'No Content' } } };
      ops.delete = { tags: [t.name], responses: { 204: { description: 'No Content' } } };
    }
    paths[`/${t.name}`] = ops;
  }
  for (const list of cache.funcs.values()) for (const f of list) {
    if (f.schema !== schema) continue;
    const args = f.params.filter((p) => p.mode === 'i' || p.mode === 'b' || p.mode === 'v');
    paths[`/rpc/${f.name}`] = {
      post: {
        tags: ['(rpc) ' + f.name], ...(f.comment ? { summary: f.comment } : {}),
        parameters: [{ in: 'body', name: 'args', required: true, schema: { type: 'object', required: args.filter((a) => !a.hasDefault).map((a) => a.name), properties: Object.fromEntries(args.map((a) => [a.name, typeOf(a.type)])) } }],
        produces: ['application/json', 'application/vnd.pgrst.object+json'],
        responses: { 200: { description: 'OK' } },
      },
    };
  }
  return {
    swagger: '2.0',
    info: { description: '', title: 'standard public schema', version: POSTGREST_VERSION },
    host, basePath, schemes: ['http'],
    consumes: ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped', 'application/vnd.pgrst.object+json', 'text/csv'],
    produces: ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped', 'application/vnd.pgrst.object+json', 'text/csv'],
    paths, definitions,
  };
}

export async function openapi(res: Response, p: ProjectRuntime, who: Identity, req: ApiRequest, settings: RestSettings): Promise<void> {
  const cache = await schemaFor(p, who, req, settings);
  const host = res.req.get('host') ?? 'localhost';
  const basePath = res.req.baseUrl || '/';
  const doc = openapiDocument(cache, req.schema, host, basePath);
  res.status(200).set('Content-Type', 'application/openapi+json; charset=utf-8');
  if (req.method === 'HEAD') { res.end(); return; }
  res.send(JSON.stringify(doc));
}
