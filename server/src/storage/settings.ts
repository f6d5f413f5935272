// Storage settings from the environment, read on first use (so a test can set them before its first request).
import path from 'node:path';
import { config, envInt } from '../../../db/src/config.ts';

export interface StorageSettings {
  backend: 'file' | 's3';
  /** Root of the file backend; staging files live under it too, so a rename never crosses filesystems. */
  fileRoot: string;
  s3: { bucket: string; region: string; endpoint?: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean; prefix: string };
  /** The platform's ceiling for any project's fileSizeLimit. */
  maxFileSize: number;
  /** Image transformation: largest source accepted, bounds of output width/height, and of source pixels. */
  imageMaxInputBytes: number;
  imageMinSize: number;
  imageMaxSize: number;
  imageMaxInputPixels: number;
  /** How long a signed upload URL stays valid (seconds). */
  signedUploadExpiry: number;
  /** Seconds after which an unfinished upload (S3 multipart, TUS) is abandoned and removed. */
  uploadExpiry: number;
}

const num = (name: string, fallback: number) => envInt(name, fallback);

let settings: StorageSettings | undefined;

export function storageSettings(): StorageSettings {
  if (settings) return settings;
  const env = process.env;
  const backend = (env.LOAM_STORAGE_BACKEND || 'file').toLowerCase();
  if (backend !== 'file' && backend !== 's3') throw new Error(`LOAM_STORAGE_BACKEND must be "file" or "s3", got "${backend}"`);
  if (backend === 's3' && !env.LOAM_S3_BUCKET) throw new Error('LOAM_S3_BUCKET is required when LOAM_STORAGE_BACKEND=s3');
  settings = {
    backend,
    fileRoot: path.resolve(env.LOAM_STORAGE_DIR || path.join(config.dataDir, 'storage')),
    s3: {
      bucket: env.LOAM_S3_BUCKET ?? '',
      region: env.LOAM_S3_REGION || 'us-east-1',
      endpoint: env.LOAM_S3_ENDPOINT || undefined,
      accessKeyId: env.LOAM_S3_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.LOAM_S3_SECRET_ACCESS_KEY || undefined,
      forcePathStyle: (env.LOAM_S3_FORCE_PATH_STYLE ?? (env.LOAM_S3_ENDPOINT ? 'true' : 'false')) === 'true',
      prefix: (env.LOAM_S3_PREFIX || '').replace(/^\/+|\/+$/g, ''),
    },
    maxFileSize: num('LOAM_STORAGE_MAX_FILE_SIZE', 5 * 1024 ** 3),
    imageMaxInputBytes: num('LOAM_IMAGE_MAX_INPUT_BYTES', 25 * 1024 ** 2),
    imageMinSize: 1,
    imageMaxSize: num('LOAM_IMAGE_MAX_SIZE', 2500),
    imageMaxInputPixels: num('LOAM_IMAGE_MAX_INPUT_PIXELS', 50_000_000),
    signedUploadExpiry: num('LOAM_STORAGE_SIGNED_UPLOAD_EXPIRY', 7200),
    uploadExpiry: num('LOAM_STORAGE_UPLOAD_EXPIRY', 24 * 3600),
  };
  return settings;
}
