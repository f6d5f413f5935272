// Paths inside a deploy: one normal form (relative, `/`-separated, no `.`/`..`/empty segments, no backslash or
// control character), the extensions no deploy may carry, and content types. A path never becomes a storage
// key: bytes are stored under their SHA-256 (storage/backend.ts siteBlobKey).
import mime from 'mime-types';

export const MAX_PATH_LENGTH = 1024;
const MAX_DEPTH = 32;

/** Server-side executables and installers: refused (403) as SupaBein does, so a site never hands them out. */
export const BLOCKED_EXTENSIONS = new Set([
  'php', 'php3', 'php4', 'php5', 'phtml', 'phar', 'cgi', 'asp', 'aspx', 'jsp', 'exe', 'dll', 'msi', 'bat', 'cmd',
  'com', 'scr', 'vbs', 'ps1', 'sh', 'jar',
]);

export type PathProblem = 'invalid' | 'blocked';

/** The normal form of a deploy path, or why it is refused. `/` at the start is refused (absolute) unless
 *  `allowLeadingSlash` (the `?path=` of an upload, where `/index.html` means the deploy's root). */
export function normalizeDeployPath(raw: string, allowLeadingSlash = false): { path: string } | { problem: PathProblem; message: string } {
  let p = raw;
  if (allowLeadingSlash && p.startsWith('/')) p = p.slice(1);
  const bad = (message: string) => ({ problem: 'invalid' as const, message });
  if (!p) return bad('path is empty');
  if (p.length > MAX_PATH_LENGTH) return bad(`path is longer than ${MAX_PATH_LENGTH} characters`);
  // Control characters (NUL included) and backslashes: a backslash is a separator on Windows zip tools.
  if (/[\x00-\x1f\x7f\\]/.test(p)) return bad(`path "${printable(p)}" has a backslash or a control character`);
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return bad(`path "${printable(p)}" is absolute`);
  const segments = p.split('/');
  if (segments.length > MAX_DEPTH) return bad(`path "${printable(p)}" is nested deeper than ${MAX_DEPTH} folders`);
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return bad(`path "${printable(p)}" has an empty, "." or ".." segment`);
  const ext = /\.([^./]+)$/.exec(p)?.[1]?.toLowerCase();
  if (ext && BLOCKED_EXTENSIONS.has(ext)) return { problem: 'blocked', message: `files with the extension .${ext} cannot be deployed` };
  return { path: p };
}

const printable = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 200);

/** The Content-Type a deployed file is served with (charset for text types). */
export function contentTypeOf(path: string): string {
  return mime.contentType(path.split('/').pop() ?? '') || 'application/octet-stream';
}
