// The PostGraphile v5 preset of one project: Amber naming, pg-aggregates, Loam's depth/cost limits and error
// codes, and a pg service whose every transaction opens with the shared request context (db/src/context.ts),
// so GraphQL runs under exactly the role, claims and policies REST does.
import { PgAggregatesPreset } from '@graphile/pg-aggregates';
import type { IncomingMessage } from 'node:http';
import type pg from 'pg';
import type { GraphQLError } from 'graphql';
import { makeWithPgClientViaPgClientAlreadyInTransaction, type NodePostgresPgClient } from 'postgraphile/adaptors/pg';
import type { WithPgClient } from 'postgraphile/@dataplan/pg';
import { isPromiseLike, SafeError } from 'postgraphile/grafast';
import type {} from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { withContext, type RequestContext } from '../../../db/src/context.ts';
import { codeHttpErrors, makeMaskError, withRequestErrorCode } from './errors.ts';
import { limitsRule } from './limits.ts';
import { tooDeepMessage, valueTooDeep } from '../json-depth.ts';
import { type GraphqlConfig } from '../../../db/src/config.ts';

/** Where the request handler (index.ts, raw.ts) leaves the caller's context for this request's transactions:
 *  keyed by the Node request, which both the Express and the plain-Node path hand to grafserv. */
export const requestContexts = new WeakMap<IncomingMessage, RequestContext>();

/**
 * `withPgClient` over a project pool (pipelined, instances.ts). With a request context it runs the callback
 * in `withContext` (db/src/context.ts: BEGIN and the context pipelined ahead of its statements; COMMIT or
 * ROLLBACK after); PostGraphile's own transactions (mutations) nest as
 * savepoints. Without one (schema introspection) it is a plain connection, as the authenticator, which can
 * read the catalogs but no table.
 */
function contextWithPgClient(pool: pg.Pool): WithPgClient<NodePostgresPgClient> {
  const run = async <T>(settings: Record<string, string | undefined> | null, callback: (client: NodePostgresPgClient) => T | Promise<T>): Promise<T> => {
    // The "settings" PostGraphile hands back are the RequestContext our pgSettings() returned (see below).
    const ctx = settings as unknown as RequestContext | null;
    if (!ctx) {
      const client = await pool.connect();
      try {
        return await makeWithPgClientViaPgClientAlreadyInTransaction(client, false)(null, callback);
      } finally {
        client.release();
      }
    }
    return withContext(pool, ctx, (client) => makeWithPgClientViaPgClientAlreadyInTransaction(client, true)(null, callback), { eager: true });
  };
  const withPgClient = run as WithPgClient<NodePostgresPgClient>;
  withPgClient.release = () => { /* the pool belongs to the project's entry in instances.ts */ };
  return withPgClient;
}

export interface ProjectPresetOptions {
  pool: pg.Pool;
  schemas: string[];
  config: GraphqlConfig;
  /** PostGraphile's own rule: no relation, ordering or filter on a column without an index. */
  strictIndexes?: boolean;
}

export function projectPreset({ pool, schemas, config, strictIndexes }: ProjectPresetOptions): GraphileConfig.Preset {
  const withPgClient = contextWithPgClient(pool);
  const maskError = makeMaskError(config.production);
  return {
    extends: [PostGraphileAmberPreset, PgAggregatesPreset],
    disablePlugins: strictIndexes ? [] : ['PgIndexBehaviorsPlugin'],
    plugins: [{
      name: 'LoamGraphqlRequestPlugin',
      version: '1.0.0',
      grafserv: {
        middleware: {
          // Adds the limits to graphql-js' rules, and codes to parse/validation errors (which grafserv
          // returns without passing them through maskError).
          setPreset(next, event) {
            event.validationRules.push(limitsRule(config.maxDepth, config.maxCost));
            const getExecutionConfig = event.getExecutionConfig;
            type ExecutionConfig = Awaited<ReturnType<typeof getExecutionConfig>>;
            const coded = new WeakMap<object, ExecutionConfig['parseAndValidate']>();
            // Called per request: no promise of our own when grafserv has none (it has none once the schema is
            // ready), and the fresh object it returns gets its parser swapped in place rather than copied.
            const withCodes = (ec: ExecutionConfig): ExecutionConfig => {
              let parseAndValidate = coded.get(ec.parseAndValidate);
              if (!parseAndValidate) {
                const original = ec.parseAndValidate;
                const seen = new WeakSet<object>();
                parseAndValidate = (query: string) => {
                  const result = original(query);
                  // Results are cached by grafserv: rewrite the errors once, in place.
                  if (result.errors && !seen.has(result)) {
                    (result as { errors: readonly GraphQLError[] }).errors = result.errors.map(withRequestErrorCode);
                    seen.add(result);
                  }
                  return result;
                };
                coded.set(ec.parseAndValidate, parseAndValidate);
              }
              ec.parseAndValidate = parseAndValidate;
              return ec;
            };
            event.getExecutionConfig = function (ctx) {
              const ec = getExecutionConfig.call(this, ctx);
              return isPromiseLike(ec) ? Promise.resolve(ec).then(withCodes) : withCodes(ec);
            };
            return next();
          },
          // grafserv parses the body itself: the nesting limit every API applies to JSON bodies is checked on
          // the parsed variables and extensions here, before anything recursive (coercion, JSON.stringify,
          // Postgres' json parser) can overflow on them.
          processGraphQLRequestBody(next, event) {
            const b = event.body as { variableValues?: unknown; extensions?: unknown };
            if (valueTooDeep(b.variableValues) || valueTooDeep(b.extensions)) {
              throw new SafeError(tooDeepMessage(), { statusCode: 400, code: 'JSON_TOO_DEEP' });
            }
            return next();
          },
          // Errors grafserv answers before execution (bad JSON, no query, wrong method or media type) get a
          // code from their HTTP status.
          processRequest(next) {
            const result = next();
            return isPromiseLike(result) ? result.then(codeHttpErrors) : codeHttpErrors(result);
          },
        },
      },
    }],
    pgServices: [{
      name: 'main',
      schemas,
      adaptor: {
        createWithPgClient: () => withPgClient,
        makePgService: () => { throw new Error('not used'); },
      },
      adaptorSettings: undefined,
      withPgClientKey: 'withPgClient',
      pgSettingsKey: 'pgSettings',
      // Not key/value settings: the whole request context, built by the route handler and applied by
      // the one primitive (withContext), so REST and GraphQL cannot drift apart.
      pgSettings: (requestContext) => {
        const req = requestContext.node?.req;
        const ctx = req && requestContexts.get(req);
        // Fail closed: without a caller's context nothing may run (it would run as the authenticator).
        if (!ctx) throw new Error('GraphQL request has no request context');
        return ctx as unknown as Record<string, string | undefined>;
      },
      pgSettingsForIntrospection: null,
      pgSubscriber: null,
    }],
    grafserv: {
      graphqlPath: '/',
      graphqlOverGET: true,
      graphiql: !config.production,
      graphiqlOnGraphQLGET: !config.production,
      graphiqlPath: '/',
      graphiqlStaticPath: '/ruru-static/',
      websockets: false,
      maskError,
    },
    schema: {
      // Relay-style global ids stay `id` (PostGraphile's default); primary keys are `rowId` (Amber).
      pgForbidSetofFunctionsToReturnNull: false,
    },
  };
}
