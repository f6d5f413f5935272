// A project's S3 access keys (the shapes of Supabase's dashboard API): list, create (the secret is in this one
// answer only), revoke. Each key acts on the project's storage as its service role (server/src/storage/s3/).
import crypto from 'node:crypto';
import { Router } from 'express';
import { seal } from '../../../db/src/secret-box.ts';
import { credentialContext } from '../storage/s3/auth.ts';
import { errors } from '../errors.ts';
import { body, param, str } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

interface CredentialRow { id: string; description: string; access_key: string; created_at: Date }

export const storageCredentials = Router();
storageCredentials.use('/projects/:ref/storage/credentials', authenticate, scope('projects'));

storageCredentials.get('/projects/:ref/storage/credentials', async (req, res) => {
  const rows = await callerQuery<CredentialRow>(res, 'select * from platform.storage_credentials($1)', [param(req, 'ref')]);
  res.json({ data: rows });
});

storageCredentials.post('/projects/:ref/storage/credentials', async (req, res) => {
  const ref = param(req, 'ref');
  const description = str(body(req.body), 'description', { max: 256 }) ?? '';
  const accessKey = crypto.randomBytes(16).toString('hex');
  const secret = crypto.randomBytes(32).toString('hex');
  const [row] = await callerQuery<CredentialRow>(res, 'select * from platform.create_storage_credential($1, $2, $3, $4)',
    [ref, description, accessKey, seal(secret, credentialContext(ref, accessKey))]);
  res.status(201).json({ ...row, secret_key: secret });
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

storageCredentials.delete('/projects/:ref/storage/credentials/:id', async (req, res) => {
  const id = param(req, 'id');
  if (!UUID.test(id)) throw errors.notFound('Storage credential');
  await callerQuery(res, 'select platform.delete_storage_credential($1, $2)', [param(req, 'ref'), id]);
  res.json({ message: 'Deleted' });
});
