// Loaded by Deno as the main module of every function worker (runtime.ts): binds the function's Deno.serve to
// the worker's unix socket instead of a port, then imports the function. Args: <socket path> <entrypoint URL>.
// The worker exits when Loam's end of its stdin closes, so a Loam killed with SIGKILL leaves no worker behind.
const [socketPath, entrypoint] = Deno.args;
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
