// How much of Supabase's Management API (`/v1`) Loam serves: compares the operations listed in
// supabase-v1-operations.json (method + path, taken from Supabase's OpenAPI document) with Loam's own
// `/v1/openapi.json` — read from a running Loam when a URL is given, else from the spec module the router is
// kept in step with (test/management/openapi.test.ts).
//
//   node test/tools/v1-coverage.ts [http://127.0.0.1:54321] [--json]
import fs from 'node:fs';
import path from 'node:path';

interface Operation { method: string; path: string; id: string }

/** `/v1/projects/{ref}/functions/{function_slug}` and `/v1/projects/{x}/functions/{y}` are the same route. */
const routeKey = (method: string, p: string) => `${method.toUpperCase()} ${p.replace(/\{[^}]+\}/g, '{}')}`;

export function supabaseOperations(): Operation[] {
  const file = path.join(import.meta.dirname, 'supabase-v1-operations.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { operations: Operation[] }).operations;
}

export async function loamSpec(url?: string): Promise<{ paths: Record<string, Record<string, unknown>> }> {
  if (url) {
    const res = await fetch(new URL('/v1/openapi.json', url), { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET /v1/openapi.json: ${res.status}`);
    return await res.json() as { paths: Record<string, Record<string, unknown>> };
  }
  const { managementSpec } = await import('../../server/src/management/openapi-spec.ts');
  return managementSpec as { paths: Record<string, Record<string, unknown>> };
}

/** The Supabase operations Loam serves and those it does not. */
export function coverage(spec: { paths: Record<string, Record<string, unknown>> }, ops = supabaseOperations()) {
  const loam = new Set<string>();
  for (const [p, methods] of Object.entries(spec.paths)) {
    for (const m of Object.keys(methods)) if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) loam.add(routeKey(m, p));
  }
  const served = ops.filter((o) => loam.has(routeKey(o.method, o.path)));
  const missing = ops.filter((o) => !loam.has(routeKey(o.method, o.path)));
  return { total: ops.length, served, missing };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const url = args.find((a) => !a.startsWith('--'));
  const { total, served, missing } = coverage(await loamSpec(url));
  if (args.includes('--json')) {
    console.log(JSON.stringify({ total, served: served.length, missing: missing.map((o) => `${o.method} ${o.path}`) }, null, 2));
  } else {
    console.log(`Supabase /v1 operations: ${total}`);
    console.log(`served by Loam: ${served.length}`);
    console.log(`not served: ${missing.length}`);
    for (const o of missing) console.log(`  ${o.method.padEnd(6)} ${o.path}  (${o.id})`);
  }
}
