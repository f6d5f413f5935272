// The sites bench's baseline: a plain Express + serve-static server on the same files, in its own process.
import express from 'express';
import serveStatic from 'serve-static';

const app = express();
app.use(serveStatic(process.env.BASELINE_DIR!));
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n');
});
