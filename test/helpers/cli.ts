// The real Supabase CLI (node_modules/.bin/supabase) as a user runs it against Loam: a profile naming Loam's
// Management API and project domain, an access token, and a HOME and project directory of its own.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { SUPABASE_REGIONS } from '../../db/src/regions.ts';

const made: string[] = [];
after(() => { for (const d of made) fs.rmSync(d, { recursive: true, force: true }); });

const BIN = path.resolve('node_modules/.bin/supabase');

export interface Cli { run(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>; workdir: string; home: string }

/** A CLI user with their own HOME and project directory, talking to `apiUrl` with `token`. */
export function cliUser(apiUrl: string, token: string, extraEnv: Record<string, string> = {}, projectHost = 'localhost'): Cli {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-cli-home-'));
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'loam-cli-work-'));
  made.push(home, workdir);
  // A CLI profile naming Loam (README: "The Supabase CLI"): the API, the domain projects are served under, and
  // Supabase's region codes, which every Loam offers.
  const profile = path.join(home, 'loam-profile.json');
  fs.writeFileSync(profile, JSON.stringify({
    name: 'loam', api_url: apiUrl, dashboard_url: apiUrl, project_host: projectHost, regions: Object.keys(SUPABASE_REGIONS),
  }));
  const env = {
    PATH: process.env.PATH ?? '', HOME: home, SUPABASE_HOME: path.join(home, '.supabase'),
    SUPABASE_API_URL: apiUrl, SUPABASE_ACCESS_TOKEN: token,
    SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', ...extraEnv,
  };
  return {
    home, workdir,
    run(args, opts = {}) {
      return new Promise((resolve, reject) => {
        // Its own process group: the npm wrapper starts the real binary, which starts supabase-go; a timeout ends all.
        const child = spawn(BIN, [...args, '--workdir', workdir, '--profile', profile], { env, cwd: workdir, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        let stdout = '', stderr = '';
        const cap = (s: string, d: Buffer) => (s.length < 1_000_000 ? s + d.toString() : s);
        child.stdout.on('data', (d) => { stdout = cap(stdout, d); });
        child.stderr.on('data', (d) => { stderr = cap(stderr, d); });
        child.stdin.on('error', () => {});
        child.stdin.end(opts.input ?? '');
        const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } }, opts.timeoutMs ?? 60_000);
        child.on('error', (err) => { clearTimeout(timer); reject(err); });
        child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
      });
    },
  };
}

