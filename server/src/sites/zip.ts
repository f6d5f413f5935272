// Reading a deploy's zip safely. Every entry is judged from the central directory before a byte is unpacked:
// its name (no `..`, absolute path, backslash or control character), its kind (no symlink, no encryption), the
// count of entries, the declared sizes and each entry's compression ratio. Unpacking then counts the real bytes
// (yauzl checks them against the declared sizes), so a lying header fails too. A zip whose files all sit in one
// top folder is unwrapped.
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { normalizeDeployPath } from './paths.ts';
import { type DeployLimits } from './settings.ts';
import { sitesSettings } from '../../../db/src/config.ts';

export class ZipRefused extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface ZipFile { path: string; entry: yauzl.Entry }

// Below this an entry's ratio is not judged: small text files compress well and can do no harm.
const RATIO_FLOOR = 1024 * 1024;
const S_IFMT = 0o170000, S_IFLNK = 0o120000;

function open(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true },
    (err, zip) => err || !zip ? reject(new ZipRefused(400, 'invalid_zip', `not a readable zip archive: ${err?.message ?? 'unknown error'}`)) : resolve(zip)));
}

/** The files of the zip at `file`, judged; throws ZipRefused (a 4xx) for anything unsafe or over a limit.
 *  The caller must close `zip`. */
export async function inspectZip(file: string, limits: DeployLimits = sitesSettings()): Promise<{ zip: yauzl.ZipFile; files: ZipFile[] }> {
  const zip = await open(file);
  try {
    if (zip.entryCount > limits.maxFiles) {
      throw new ZipRefused(413, 'too_many_files', `the zip has ${zip.entryCount} entries; at most ${limits.maxFiles} are allowed`);
    }
    const raw: { name: string; entry: yauzl.Entry }[] = [];
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on('error', (err) => reject(err instanceof ZipRefused ? err : new ZipRefused(400, 'invalid_zip', `not a readable zip archive: ${err.message}`)));
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        try {
          const nameBytes = entry.fileName as unknown as Buffer;
          const name = nameBytes.toString('utf8');
          const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
          if (mode === S_IFLNK) throw new ZipRefused(400, 'unsafe_zip_entry', `the zip entry "${name.slice(0, 200)}" is a symbolic link`);
          if (/[\\]/.test(name) || name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.split('/').includes('..')) {
            throw new ZipRefused(400, 'unsafe_zip_entry', `the zip entry "${name.replace(/[\x00-\x1f]/g, '?').slice(0, 200)}" points outside the deploy`);
          }
          if ((entry.generalPurposeBitFlag & 0x1) !== 0) throw new ZipRefused(400, 'invalid_zip', 'encrypted zip entries are not supported');
          const isDir = name.endsWith('/');
          if (!isDir && !name.startsWith('__MACOSX/')) {
            if (entry.uncompressedSize > limits.maxFileBytes) {
              throw new ZipRefused(413, 'file_too_large', `"${name.slice(0, 200)}" is ${entry.uncompressedSize} bytes; at most ${limits.maxFileBytes} are allowed per file`);
            }
            total += entry.uncompressedSize;
            if (total > limits.maxDeployBytes) {
              throw new ZipRefused(413, 'deploy_too_large', `the zip unpacks to more than ${limits.maxDeployBytes} bytes`);
            }
            if (entry.uncompressedSize > RATIO_FLOOR && entry.uncompressedSize > limits.maxZipRatio * Math.max(entry.compressedSize, 1)) {
              throw new ZipRefused(413, 'zip_bomb', `"${name.slice(0, 200)}" compresses ${Math.round(entry.uncompressedSize / Math.max(entry.compressedSize, 1))}:1; at most ${limits.maxZipRatio}:1 is allowed`);
            }
            raw.push({ name, entry });
          }
          zip.readEntry();
        } catch (err) {
          reject(err);
        }
      });
      zip.readEntry();
    });
    // One top folder holding everything (what "compress this folder" makes) is unwrapped.
    const first = raw[0]?.name.split('/')[0];
    const wrapped = raw.length > 0 && raw.every((r) => r.name.includes('/') && r.name.split('/')[0] === first);
    const files: ZipFile[] = [];
    const seen = new Set<string>();
    for (const r of raw) {
      const name = wrapped ? r.name.slice(first!.length + 1) : r.name;
      const checked = normalizeDeployPath(name);
      if ('problem' in checked) throw new ZipRefused(checked.problem === 'blocked' ? 403 : 400, checked.problem === 'blocked' ? 'blocked_extension' : 'unsafe_zip_entry', checked.message);
      if (seen.has(checked.path)) throw new ZipRefused(400, 'invalid_zip', `the zip holds "${checked.path.slice(0, 200)}" twice`);
      seen.add(checked.path);
      files.push({ path: checked.path, entry: r.entry });
    }
    if (files.length === 0) throw new ZipRefused(422, 'empty_deploy', 'the zip holds no files');
    return { zip, files };
  } catch (err) {
    zip.close();
    throw err;
  }
}

/** An entry's bytes. yauzl starts inflating (and checking the declared size) before anyone reads, so an error
 *  can come before the reader listens: a listener from the start keeps it from being uncaught, and the reader
 *  still gets it (a destroyed stream's iterator throws its error). */
export function entryStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, stream) => {
    if (err || !stream) return reject(new ZipRefused(400, 'invalid_zip', `cannot read a zip entry: ${err?.message ?? 'unknown error'}`));
    stream.on('error', () => {});
    resolve(stream);
  }));
}
