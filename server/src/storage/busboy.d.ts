// The part of busboy's API the storage upload uses (the package ships no types).
declare module 'busboy' {
  import type { IncomingHttpHeaders } from 'node:http';
  import type { Readable, Writable } from 'node:stream';
  interface FileInfo { filename?: string; encoding: string; mimeType: string }
  interface Limits { fields?: number; files?: number; fieldSize?: number; parts?: number }
  interface Busboy extends Writable {
    on(event: 'file', fn: (name: string | undefined, stream: Readable & { truncated?: boolean }, info: FileInfo) => void): this;
    on(event: 'field', fn: (name: string | undefined, value: string) => void): this;
    on(event: 'filesLimit' | 'fieldsLimit' | 'partsLimit' | 'close' | 'finish', fn: () => void): this;
    on(event: 'error', fn: (err: Error) => void): this;
  }
  function busboy(config: { headers: IncomingHttpHeaders; limits?: Limits }): Busboy;
  export default busboy;
}
