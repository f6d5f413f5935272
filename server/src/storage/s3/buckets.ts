// S3 bucket operations on storage.buckets, as the caller (RLS decides, as on the REST API).
import { tx } from '../context.ts';
import { errors } from '../errors.ts';
import { bucketName, ownerUuid } from '../validate.ts';
import { readBody } from './body.ts';
import { sendXml, type S3Request } from './index.ts';
import { xml } from './xml.ts';

export async function listBuckets({ req, res, auth }: S3Request) {
  const rows = await tx(req, res, auth.who, async (c) =>
    (await c.query('select id, created_at from storage.buckets order by id')).rows, { readOnly: true });
  sendXml(res, xml('ListAllMyBucketsResult', {
    Owner: { ID: 'loam', DisplayName: 'loam' },
    Buckets: { Bucket: rows.map((b) => ({ Name: b.id, CreationDate: new Date(b.created_at) })) },
  }));
}

export async function createBucket({ req, res, auth, bucket }: S3Request) {
  const id = bucketName(bucket);
  await readBody(req, auth, 64 * 1024); // CreateBucketConfiguration: the region is Loam's, whatever it says
  const sub = auth.who.claims.sub;
  await tx(req, res, auth.who, (c) => c.query(
    `insert into storage.buckets (id, name, owner, owner_id, public) values ($1, $1, $2, $3, false)`,
    [id, ownerUuid(sub), typeof sub === 'string' ? sub : null]));
  res.status(200).set('Location', `/${id}`).end();
}

export async function deleteBucket({ req, res, auth, bucket }: S3Request) {
  const id = bucketName(bucket);
  await tx(req, res, auth.who, async (c) => {
    const { rows } = await c.query('select _loam.storage_bucket_has_objects($1) as busy', [id]);
    if (rows[0].busy) throw errors.bucketNotEmpty();
    const { rowCount } = await c.query('delete from storage.buckets where id = $1', [id]);
    if (!rowCount) throw errors.noSuchBucket();
  });
  res.status(204).end();
}

async function checkBucket({ req, res, auth, bucket }: S3Request) {
  const id = bucketName(bucket);
  const { length } = await tx(req, res, auth.who, async (c) =>
    (await c.query('select 1 from storage.buckets where id = $1', [id])).rows, { readOnly: true });
  if (!length) throw errors.noSuchBucket();
}

export async function headBucket(r: S3Request) {
  await checkBucket(r);
  r.res.status(200).end();
}

export async function location(r: S3Request) {
  await checkBucket(r);
  sendXml(r.res, xml('LocationConstraint', {}));
}

export async function versioning(r: S3Request) {
  await checkBucket(r);
  sendXml(r.res, xml('VersioningConfiguration', {}));
}
