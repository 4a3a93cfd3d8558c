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

/** The builder's model of a query, when the builder can show it (a list of plain filters
 *  and an order); null when only the JSON can (or, nested, or other keys). */
export function parseQuery(q: Record<string, Json>): { filters: Filter[]; order: Order[] } | null {
  if (Object.keys(q).some((k) => k !== 'where' && k !== 'order_by')) return null;
  const where = q.where ?? [];
  const ob = q.order_by ?? [];
  if (!Array.isArray(where) || !Array.isArray(ob)) return null;
  const filters: Filter[] = [];
  for (const w of where) {
    if (!Array.isArray(w) || w.length !== 3 || typeof w[0] !== 'string' || !OPS.includes(w[1] as Filter['op'])) return null;
    filters.push({ path: w[0], op: w[1] as Filter['op'], value: typeof w[2] === 'string' ? w[2] : JSON.stringify(w[2]) });
  }
  const order: Order[] = [];
  for (const o of ob) {
    if (!Array.isArray(o) || typeof o[0] !== 'string' || (o[1] !== 'asc' && o[1] !== 'desc')) return null;
    order.push({ path: o[0], dir: o[1] });
  }
  return { filters, order };
}

export function buildQuery(filters: Filter[], order: Order[]): Record<string, Json> {
  const q: Record<string, Json> = {};
  const where = filters.filter((f) => f.path.trim()).map((f) => [f.path.trim(), f.op, value(f.value)] as Json);
  if (where.length) q.where = where;
  const ob = order.filter((o) => o.path.trim()).map((o) => [o.path.trim(), o.dir] as Json);
  if (ob.length) q.order_by = ob;
  return q;
}
