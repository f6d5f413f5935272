// The managed section of a database server's pg_hba.conf: the rules that enforce each project's allowed
// networks, bans and TLS requirement on its psql login. Written through the server itself (superuser large
// object export), so it works on any server whose pg_hba.conf holds the two marker lines — the embedded server
// writes them at start-up; an operator may add them to a DATABASE_URL server. Without them nothing is written.
import { controlPool, withClient } from './pools.ts';
import { serverAdminAddress } from './servers.ts';

export const HBA_BEGIN = '# BEGIN LOAM MANAGED RULES (rewritten by Loam: project network restrictions, bans, TLS enforcement)';
export const HBA_END = '# END LOAM MANAGED RULES';
const HBA_LOCK = 0x4c4f4842; // 'LOHB': one rewrite of a server's file at a time, across API processes

/** The file with the managed section replaced by `rules`; undefined when the file has no (well-formed) section. */
export function withManagedRules(content: string, rules: string[]): string | undefined {
  const lines = content.split('\n');
  const begin = lines.indexOf(HBA_BEGIN);
  const end = lines.indexOf(HBA_END);
  if (begin < 0 || end < begin) return undefined;
  return [...lines.slice(0, begin + 1), ...rules, ...lines.slice(end)].join('\n');
}

/** Adds an empty managed section before every other rule (first match wins); the content as it was if present. */
export function withManagedSection(content: string): string {
  if (content.split('\n').includes(HBA_BEGIN)) return content;
  return `${HBA_BEGIN}\n${HBA_END}\n${content}`;
}

/** Rewrites the server's managed rules from the control database and reloads its configuration. False when the
 *  server's pg_hba.conf has no managed section (the rules then cannot be enforced on psql logins there). */
export async function applyHbaRules(serverId: number | string): Promise<boolean> {
  const address = await serverAdminAddress(serverId);
  const applied = await withClient(address, 'postgres', async (c) => {
    await c.query('begin');
    try {
      await c.query('select pg_advisory_xact_lock($1)', [HBA_LOCK]);
      const { rows: [file] } = await c.query<{ path: string; content: string }>(
        `select current_setting('hba_file') as path, pg_read_file(current_setting('hba_file')) as content`);
      const { rows } = await controlPool().query<{ line: string }>('select line from platform_private.hba_rules($1) line', [serverId]);
      const next = withManagedRules(file.content, rows.map((r) => r.line));
      if (next === undefined) { await c.query('rollback'); return false; }
      if (next !== file.content) {
        await writeServerFile(c, file.path, next);
        // The server parses the file as written; a rule it cannot read must not reach the next reload.
        const { rows: bad } = await c.query(`select line_number, error from pg_hba_file_rules where error is not null`);
        if (bad.length) {
          await writeServerFile(c, file.path, file.content);
          throw new Error(`pg_hba.conf rule refused by the server (line ${bad[0].line_number}: ${bad[0].error}); the file was left as it was`);
        }
        await c.query('select pg_reload_conf()');
      }
      await c.query('commit');
      return true;
    } catch (err) {
      await c.query('rollback').catch(() => {});
      throw err;
    }
  });
  if (applied) await controlPool().query('select platform_private.network_applied($1)', [serverId]);
  return applied;
}

async function writeServerFile(c: { query: (sql: string, params?: unknown[]) => Promise<{ rows: any[] }> }, path: string, content: string) {
  const { rows: [{ oid }] } = await c.query(`select lo_from_bytea(0, convert_to($1, 'UTF8')) as oid`, [content]);
  await c.query('select lo_export($1, $2)', [oid, path]);
  await c.query('select lo_unlink($1)', [oid]);
}
