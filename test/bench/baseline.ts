// The raw baseline: plain node:http + pg, one prepared `select … where id = $1`, JSON out. What a hand-written
// endpoint on the same database and machine can do; the REST API is measured as a ratio of it.
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.BASELINE_DB_URL, max: Number(process.env.BASELINE_POOL || 10) });
const query = { name: 'item_by_id', text: 'select id, author_id, name, price, created_at from items where id = $1' };

const server = http.createServer(async (req, res) => {
  const id = Number(new URL(req.url!, 'http://x').searchParams.get('id'));
  try {
    const { rows } = await pool.query({ ...query, values: [id] });
    const body = JSON.stringify(rows);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + '\n');
});
process.on('SIGTERM', () => { server.close(); void pool.end(); setTimeout(() => process.exit(0), 100).unref(); });
