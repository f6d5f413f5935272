// Shortcuts for the edge function tests: deploy a bundle through the Management API as the CLI does
// (multipart: metadata + files), and invoke a function over plain fetch.
import { loam, type Project } from '../helpers/platform.ts';

export async function deploy(p: Project, slug: string, files: Record<string, string>,
  meta: { entrypoint_path?: string; verify_jwt?: boolean; name?: string; import_map_path?: string } = {}) {
  const form = new FormData();
  form.append('metadata', JSON.stringify({ entrypoint_path: 'index.ts', ...meta }));
  for (const [name, text] of Object.entries(files)) form.append('file', new Blob([text]), name);
  const res = await fetch(`${(await loam()).url}/v1/projects/${p.ref}/functions/deploy?slug=${slug}`, {
    method: 'POST', headers: { authorization: `Bearer ${p.owner.token}` }, body: form,
  });
  return { status: res.status, body: await res.json() as any };
}

export async function invoke(p: Project, path: string, init: RequestInit & { key?: string | null; bearer?: string | null } = {}) {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('apikey', init.key ?? p.anonKey);
  if (init.bearer) headers.set('authorization', `Bearer ${init.bearer}`);
  const res = await fetch(`${p.url}/functions/v1/${path}`, { ...init, headers });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { /* text */ }
  return { status: res.status, text, json, headers: res.headers };
}
