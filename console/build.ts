// Builds the web console (Vite + React) into console/dist. `npm install` runs it (the `prepare` script) and
// `npm start` runs it with --if-missing (the `prestart` script), so a fresh checkout serves the console whichever
// way it was installed. The build goes to a temporary folder renamed into place: a running Loam never serves a
// half-written build.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(root, 'dist');

export async function buildConsole(): Promise<void> {
  const { build } = await import('vite');
  const { default: react } = await import('@vitejs/plugin-react');
  const tmp = path.join(root, `.dist-${process.pid}`);
  try {
    await build({
      root, configFile: false, logLevel: 'warn', base: '/',
      plugins: [react()],
      build: { outDir: tmp, emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 800, reportCompressedSize: false },
    });
    const old = path.join(root, `.old-${process.pid}`);
    if (fs.existsSync(dist)) fs.renameSync(dist, old);
    fs.renameSync(tmp, dist);
    fs.rmSync(old, { recursive: true, force: true });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Whether a build exists that is not older than any source file. */
export function consoleBuilt(): boolean {
  let built: number;
  try { built = fs.statSync(path.join(dist, 'index.html')).mtimeMs; } catch { return false; }
  const newest = (p: string): number => fs.statSync(p).isDirectory()
    ? Math.max(0, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))))
    : fs.statSync(p).mtimeMs;
  return built >= Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'index.html')));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifMissing = process.argv.includes('--if-missing');
  if (ifMissing && fs.existsSync(path.join(dist, 'index.html'))) process.exit(0);
  const t = Date.now();
  await buildConsole();
  console.log(`web console built in ${Date.now() - t} ms (${path.relative(process.cwd(), dist)})`);
}
