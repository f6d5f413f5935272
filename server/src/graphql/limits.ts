// Query depth and cost limits, as GraphQL validation rules: a query that is too deep or asks for too many
// result nodes is refused before it plans or touches the database, with a stable `extensions.code`.
//
// Cost is an estimate of the result size: every field counts once per row it can appear in. A field that
// pages (it takes `first` / `last`, like PostGraphile's connections) multiplies what is under it by that
// argument, or by DEFAULT_PAGE when the query leaves it open; a list field without paging arguments
// (`groupedAggregates`, simple lists) multiplies by DEFAULT_PAGE too. A `$variable` counts as its default
// value, else DEFAULT_PAGE (validation runs once per query text, before variables are known).
// Introspection (`__schema`, `__type`) is neither depth- nor cost-limited: GraphiQL and codegen need it.
import {
  GraphQLError, Kind, getNamedType, getNullableType, isListType, isObjectType, isInterfaceType,
  type ASTVisitor, type FieldNode, type GraphQLField, type GraphQLNamedType, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule, type ValueNode,
} from 'graphql';

export const DEFAULT_PAGE = 100;

export const limitErrors = {
  tooDeep: (depth: number, max: number, node: OperationDefinitionNode) => new GraphQLError(
    `Query is too deep: it nests ${depth} levels, the maximum is ${max}`, { nodes: [node], extensions: { code: 'QUERY_TOO_DEEP', depth, maxDepth: max } }),
  tooCostly: (cost: number, max: number, node: OperationDefinitionNode) => new GraphQLError(
    `Query is too expensive: its estimated cost is ${cost}, the maximum is ${max}; ask for fewer rows (first/last) or fewer nested lists`,
    { nodes: [node], extensions: { code: 'QUERY_TOO_COMPLEX', cost, maxCost: max } }),
};

interface Measure { depth: number; cost: number }

/** Walks an operation, following fragments (a fragment cycle is reported by graphql's own rule; stop on it). */
function measure(ctx: ValidationContext, op: OperationDefinitionNode): Measure {
  const schema = ctx.getSchema();
  const variableDefaults = new Map<string, ValueNode | undefined>();
  for (const v of op.variableDefinitions ?? []) variableDefaults.set(v.variable.name.value, v.defaultValue);

  const pageSize = (field: FieldNode, def: GraphQLField<unknown, unknown> | undefined): number => {
    if (!def) return 1;
    const paged = def.args.some((a) => a.name === 'first' || a.name === 'last');
    if (paged) {
      let n: number | undefined;
      for (const arg of field.arguments ?? []) {
        if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
        const value = arg.value.kind === Kind.VARIABLE ? variableDefaults.get(arg.value.name.value) : arg.value;
        if (value?.kind === Kind.INT) n = Math.min(n ?? Infinity, Number(value.value));
      }
      return Math.max(1, n ?? DEFAULT_PAGE);
    }
    // A list under a connection (`nodes`, `edges`) is already counted by the connection's page size.
    if (isListType(getNullableType(def.type)) && field.name.value !== 'nodes' && field.name.value !== 'edges') return DEFAULT_PAGE;
    return 1;
  };

  const walk = (set: SelectionSetNode, type: GraphQLNamedType | undefined, rows: number, seen: Set<string>): Measure => {
    let depth = 0;
    let cost = 0;
    for (const sel of set.selections) {
      let sub: Measure = { depth: 0, cost: 0 };
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        const def = type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[sel.name.value] : undefined;
        cost += rows;
        if (sel.selectionSet) {
          const inner = walk(sel.selectionSet, def && getNamedType(def.type), rows * pageSize(sel, def), seen);
          sub = { depth: inner.depth + 1, cost: inner.cost };
        } else {
          sub = { depth: 1, cost: 0 };
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        sub = walk(sel.selectionSet, t, rows, seen);
      } else {
        const name = sel.name.value;
        const frag = ctx.getFragment(name);
        if (!frag || seen.has(name)) continue;
        sub = walk(frag.selectionSet, schema.getType(frag.typeCondition.name.value), rows, new Set(seen).add(name));
      }
      depth = Math.max(depth, sub.depth);
      cost += sub.cost;
    }
    return { depth, cost };
  };

  const root = rootType(schema, op);
  return walk(op.selectionSet, root ?? undefined, 1, new Set());
}

function rootType(schema: GraphQLSchema, op: OperationDefinitionNode) {
  return op.operation === 'query' ? schema.getQueryType()
    : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
}

/** One validation rule enforcing both limits (one walk per operation). */
export function limitsRule(maxDepth: number, maxCost: number): ValidationRule {
  return (ctx: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const { depth, cost } = measure(ctx, op);
      if (depth > maxDepth) ctx.reportError(limitErrors.tooDeep(depth, maxDepth, op));
      else if (cost > maxCost) ctx.reportError(limitErrors.tooCostly(cost, maxCost, op));
      return false;
    },
  });
}
