// GET /v1/openapi.json: the OpenAPI 3 document of the Management API (test/management/openapi.test.ts keeps
// it true to the routes that exist).
import { Router } from 'express';
import { managementSpec } from './openapi-spec.ts';

export const openapi = Router();

openapi.get('/openapi.json', (_req, res) => {
  res.json(managementSpec);
});
