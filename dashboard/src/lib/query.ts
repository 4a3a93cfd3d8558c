// The filter and order builder's model, and the query JSON it writes (API.md's query).
import type { Json } from './types';

export const OPS = ['==', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'array_contains', 'array_contains_any', 'exists', 'prefix'] as const;
export interface Filter {
  path: string;
  op: (typeof OPS)[number];
  value: string;
}
export interface Order {
  path: string;
  dir: 'asc' | 'desc';
}

/** A typed value: JSON when it parses (numbers, true, lists), else the text as a string. */
export function value(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

export function buildQuery(filters: Filter[], order: Order[]): Record<string, Json> {
  const q: Record<string, Json> = {};
  const where = filters.filter((f) => f.path.trim()).map((f) => [f.path.trim(), f.op, value(f.value)] as Json);
  if (where.length) q.where = where;
  const ob = order.filter((o) => o.path.trim()).map((o) => [o.path.trim(), o.dir] as Json);
  if (ob.length) q.order_by = ob;
  return q;
}
