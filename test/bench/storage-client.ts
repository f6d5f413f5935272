// The storage bench's client (storage.bench.ts), in its own process so that its buffers are not counted in the
// Loam process's memory: one transfer of a file through REST, S3 multipart or TUS, or the plain-copy baseline.
// Prints {ms}. Argument: JSON {op, file, out?, url, key, s3?: {accessKeyId, secretAccessKey}, partSize}.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';

interface Args { op: string; file: string; out?: string; url: string; key: string; s3?: { accessKeyId: string; secretAccessKey: string }; partSize: number; name: string }
const a = JSON.parse(process.argv[2]) as Args;
const size = fs.statSync(a.file).size;
const auth = { authorization: `Bearer ${a.key}`, apikey: a.key };
const s3 = () => new S3Client({ endpoint: `${a.url}/storage/v1/s3`, region: 'local', forcePathStyle: true, maxAttempts: 1, credentials: a.s3!,
  requestChecksumCalculation: 'WHEN_REQUIRED' });

async function download(res: Response) {
  if (!res.ok) throw new Error(`download: ${res.status} ${await res.text()}`);
  await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(a.out!));
}

const ops: Record<string, () => Promise<void>> = {
  async copy() {
    await pipeline(fs.createReadStream(a.file), fs.createWriteStream(a.out!));
  },
  async 'rest-up'() {
    const res = await fetch(`${a.url}/storage/v1/object/bench/${a.name}`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(size), 'x-upsert': 'true' },
      body: Readable.toWeb(fs.createReadStream(a.file)) as never, duplex: 'half',
    } as RequestInit);
    if (!res.ok) throw new Error(`REST upload: ${res.status} ${await res.text()}`);
  },
  async 'rest-down'() {
    await download(await fetch(`${a.url}/storage/v1/object/bench/${a.name}`, { headers: auth }));
  },
  async 's3-up'() {
    const c = s3();
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'bench', Key: a.name }));
    const parts: { ETag?: string; PartNumber: number }[] = [];
    for (let start = 0, n = 1; start < size; start += a.partSize, n++) {
      const end = Math.min(start + a.partSize, size);
      const { ETag } = await c.send(new UploadPartCommand({ Bucket: 'bench', Key: a.name, UploadId, PartNumber: n,
        Body: fs.createReadStream(a.file, { start, end: end - 1 }), ContentLength: end - start }));
      parts.push({ ETag, PartNumber: n });
    }
    await c.send(new CompleteMultipartUploadCommand({ Bucket: 'bench', Key: a.name, UploadId, MultipartUpload: { Parts: parts } }));
  },
  async 's3-down'() {
    const { Body } = await s3().send(new GetObjectCommand({ Bucket: 'bench', Key: a.name }));
    await pipeline(Body as Readable, fs.createWriteStream(a.out!));
  },
  async 'tus-up'() {
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(fs.createReadStream(a.file), {
        endpoint: `${a.url}/storage/v1/upload/resumable`, chunkSize: a.partSize, uploadSize: size, retryDelays: null,
        headers: { ...auth, 'x-upsert': 'true' }, metadata: { bucketName: 'bench', objectName: a.name },
        onSuccess: () => resolve(), onError: reject,
      }).start();
    });
  },
};

const t0 = performance.now();
await ops[a.op]();
process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));
