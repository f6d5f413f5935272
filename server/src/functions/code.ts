// Deployed source on local disk: each version's files unpacked once under LOAM_DATA_DIR/functions/<ref>/v<id>
// (written to a scratch folder and renamed, so a half-written version is never run), and the project's Deno
// cache beside them. Used by the deploy job (to validate) and by the runtime (to run), in whichever process.
import fs from 'node:fs';
import path from 'node:path';
import { controlPool } from '../../../db/src/pools.ts';
import type { FunctionSettings } from '../../../db/src/config.ts';

export interface VersionInfo {
  ref: string; slug: string; version: number; entrypointPath: string; importMapPath: string | null; status: string;
  dir: string; files: string[];
}

export const projectDir = (base: string, ref: string) => path.join(base, ref);
export const denoDir = (base: string, ref: string) => path.join(base, ref, 'deno-cache');

/** Resolves a bundle path under `dir`, refusing anything that would land outside it. */
export function inside(dir: string, rel: string): string {
  const full = path.resolve(dir, rel);
  if (!full.startsWith(dir + path.sep)) throw new Error(`path ${rel} leaves the function's folder`);
  return full;
}

export async function materialize(base: string, versionId: string | number): Promise<VersionInfo | undefined> {
  const { rows } = await controlPool().query<{
    ref: string; slug: string; version: number; entrypoint_path: string; import_map_path: string | null; status: string;
    path: string; content: Buffer;
  }>('select * from platform_private.function_version_files($1)', [versionId]);
  if (rows.length === 0) return undefined;
  const r = rows[0];
  if (!/^[a-z]{20}$/.test(r.ref)) throw new Error('unexpected project ref');
  const dir = path.join(base, r.ref, `v${versionId}`);
  const info: VersionInfo = {
    ref: r.ref, slug: r.slug, version: r.version, entrypointPath: r.entrypoint_path, importMapPath: r.import_map_path,
    status: r.status, dir, files: rows.map((x) => x.path),
  };
  if (fs.existsSync(dir)) return info;
  const scratch = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  for (const f of rows) {
    const full = inside(scratch, f.path);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, f.content, { mode: 0o600 });
  }
  try {
    fs.renameSync(scratch, dir);
  } catch (err) {
    fs.rmSync(scratch, { recursive: true, force: true });
    if (!fs.existsSync(dir)) throw err; // another process unpacked the same version first: theirs is as good
  }
  return info;
}

/** Deno's flags for the bundle's configuration: its own deno.json or import map, never one found above it. */
export function configFlags(v: VersionInfo): string[] {
  const flags = ['--no-lock'];
  const config = ['deno.json', 'deno.jsonc'].find((f) => v.files.includes(f));
  flags.push(config ? `--config=${inside(v.dir, config)}` : '--no-config');
  if (v.importMapPath) flags.push(`--import-map=${inside(v.dir, v.importMapPath)}`);
  return flags;
}

/** The environment every Deno child starts from: nothing of Loam's own, only what Deno needs to fetch packages. */
export function baseEnv(base: string, ref: string, files: string[]): Record<string, string> {
  const env: Record<string, string> = {
    DENO_DIR: denoDir(base, ref), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', HOME: projectDir(base, ref),
  };
  if (!files.includes('package.json')) env.DENO_NO_PACKAGE_JSON = '1';
  for (const k of ['NPM_CONFIG_REGISTRY', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'DENO_CERT', 'DENO_TLS_CA_STORE', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS', 'PATH']) {
    if (process.env[k]) env[k] = process.env[k]!;
  }
  return env;
}

/** Removes the unpacked folders of a project's versions that nothing may run any more: neither live nor waiting
 *  for validation, not in `busy` (versions this process runs), and untouched for `graceMs` — a worker touches
 *  its folder every few seconds while it runs (runtime.ts), so a version still finishing requests in another
 *  process keeps its files. Half-written scratch folders older than an hour go too. */
export async function pruneVersions(base: string, ref: string, busy: ReadonlySet<string>, graceMs: number): Promise<{ removed: string[]; waiting: number }> {
  const removed: string[] = [];
  let waiting = 0;
  if (!/^[a-z]{20}$/.test(ref)) return { removed, waiting };
  const dir = projectDir(base, ref);
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return { removed, waiting }; }
  const { rows } = await controlPool().query<{ id: string }>('select id from platform_private.function_versions_in_use($1) as id', [ref]);
  const keep = new Set(rows.map((r) => String(r.id)));
  const now = Date.now();
  for (const name of names) {
    const m = /^v(\d+)(\.tmp-.*)?$/.exec(name);
    if (!m || (!m[2] && (keep.has(m[1]) || busy.has(m[1])))) continue;
    const full = path.join(dir, name);
    let age: number;
    try { age = now - fs.statSync(full).mtimeMs; } catch { continue; }
    if (age < (m[2] ? 3_600_000 : graceMs)) { if (!m[2]) waiting++; continue; }
    fs.rmSync(full, { recursive: true, force: true });
    removed.push(name);
  }
  return { removed, waiting };
}

/** A version's folder, if unpacked: removed at once (a version that failed validation never runs). */
export function removeVersion(base: string, ref: string, versionId: string | number): void {
  if (!/^[a-z]{20}$/.test(ref)) return;
  fs.rmSync(path.join(projectDir(base, ref), `v${versionId}`), { recursive: true, force: true });
}

export function removeProject(base: string, ref: string): void {
  if (!/^[a-z]{20}$/.test(ref)) return;
  fs.rmSync(projectDir(base, ref), { recursive: true, force: true });
}

const BOOTSTRAP = new URL('./bootstrap.js', import.meta.url).pathname;

/** The `deno run` of a version, for the runtime (`socket`: where it serves) and for the deploy check (`socket`
 *  undefined: load the module, report, exit). The child's environment is built from nothing (baseEnv + the
 *  function's own variables), so nothing of Loam's is in it; of what Deno itself needs (cache dir, registry,
 *  proxies, CA) the function may read nothing, and reading an unset name answers undefined, as on Supabase.
 *
 *  The function's module graph is loaded by bootstrap.js through an `import()` of a specifier known only at run
 *  time. That matters: Deno lets the *statically analysable* graph of the main module read any local file
 *  without --allow-read (`import '/etc/passwd'` would load and print its first line in the syntax error), but
 *  checks --allow-read for every local module of a graph loaded this way. Never make the function's entrypoint
 *  the main module, and never run Deno subcommands (install, info, check) on its code outside this sandbox. */
export function sandbox(v: VersionInfo, s: FunctionSettings, env: Record<string, string>, socket?: string) {
  const cache = denoDir(s.dir, v.ref);
  fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
  const base = baseEnv(s.dir, v.ref, v.files);
  const args = [
    'run', '--no-prompt', ...configFlags(v),
    '--allow-net', '--allow-import', ...s.denyNet.map((h) => `--deny-net=${h}`),
    '--allow-env', `--deny-env=${Object.keys(base).join(',')}`,
    `--allow-read=${[v.dir, cache, ...(socket ? [socket] : [])].join(',')}`,
    ...(socket ? [`--allow-write=${socket}`] : []),
    `--v8-flags=--max-old-space-size=${s.memoryMb}`,
    BOOTSTRAP, socket ?? '--check', `file://${inside(v.dir, v.entrypointPath)}`,
  ];
  return { args, env: { ...env, ...base } };
}
