// The part of s3rver's API the S3 backend test uses (the package ships no types).
declare module 's3rver' {
  interface Options { address?: string; port?: number; silent?: boolean; directory: string; configureBuckets?: { name: string }[] }
  export default class S3rver {
    constructor(options: Options);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}
