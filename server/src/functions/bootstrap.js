// Loaded by Deno as the main module of every function worker (code.ts sandbox()): binds the function's
// Deno.serve to the worker's unix socket instead of a port, then imports the function. Args: <socket path>
// <entrypoint URL>. The worker exits when Loam's end of its stdin closes, so a Loam killed with SIGKILL leaves no
// worker behind. With `--check` instead of a socket (the deploy job), the module is loaded, Deno.serve does
// nothing, and the process reports and exits.
// The import below takes its specifier from the arguments on purpose: see sandbox() in code.ts.
const [socketPath, entrypoint] = Deno.args;
if (socketPath === '--check') {
  Deno.serve = () => ({ finished: Promise.resolve(), shutdown: async () => {}, ref() {}, unref() {}, addr: { transport: 'tcp', hostname: '127.0.0.1', port: 0 } });
  try {
    await import(entrypoint);
  } catch (e) {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    Deno.exit(1);
  }
  Deno.stderr.writeSync(new TextEncoder().encode('\u0000LOAM_LOADED\n'));
  Deno.exit(0);
}
const serve = Deno.serve.bind(Deno);
let served = false;
Deno.serve = function (a, b) {
  if (served) throw new Error('Deno.serve may be called once per function');
  served = true;
  const opts = typeof a === 'function' ? {} : { ...a };
  const handler = typeof a === 'function' ? a : typeof b === 'function' ? b : opts.handler;
  return serve({
    path: socketPath,
    onListen() { Deno.stderr.writeSync(new TextEncoder().encode('\u0000LOAM_READY\n')); },
    onError: opts.onError,
    signal: opts.signal,
  }, handler);
};
(async () => {
  try { for await (const _ of Deno.stdin.readable) { /* nothing is sent */ } } catch { /* closed */ }
  Deno.exit(0);
})();
await import(entrypoint);
