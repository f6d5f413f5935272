// GraphQL settings from the environment, read on first use (so a test can set them before its first request).
import { config, envInt } from '../../../db/src/config.ts';

export interface GraphqlConfig {
  /** How many projects keep a built PostGraphile instance (LRU). */
  cacheSize: number;
  /** Connections per project a GraphQL instance may open. */
  poolSize: number;
  /** Deepest selection-set nesting a query may have. */
  maxDepth: number;
  /** Largest estimated number of result nodes a query may ask for (see limits.ts). */
  maxCost: number;
  /** How often (ms) a busy project's schema version is re-read. */
  schemaCheckMs: number;
  /** Production hides internal error details and GraphiQL. */
  production: boolean;
}

const int = (name: string, fallback: number, min = 1) => envInt(name, fallback, min);

let loaded: GraphqlConfig | undefined;

export function graphqlConfig(): GraphqlConfig {
  loaded ??= {
    cacheSize: int('LOAM_GRAPHQL_CACHE_SIZE', 50),
    poolSize: int('LOAM_GRAPHQL_POOL_SIZE', 10),
    maxDepth: int('LOAM_GRAPHQL_MAX_DEPTH', 12),
    maxCost: int('LOAM_GRAPHQL_MAX_COST', 50_000),
    schemaCheckMs: int('LOAM_GRAPHQL_SCHEMA_CHECK_MS', 1000, 0),
    production: config.production,
  };
  return loaded;
}
