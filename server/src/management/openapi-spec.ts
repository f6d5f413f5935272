// The Management API described as OpenAPI 3.0. Paths use OpenAPI's `{param}` syntax.
export const managementSpec = {
  openapi: '3.0.3',
  info: { title: 'Loam Management API', version: '1.0.0' },
  paths: {} as Record<string, Record<string, unknown>>,
};
