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

/** The fields a query filters on (at any depth of `and` / `or`) and orders by. */
function paths(q: Record<string, Json>): { top: string[]; all: string[]; order: string[] } {
  const top: string[] = [];
  const all: string[] = [];
  const walk = (f: Json, depth: number) => {
    if (Array.isArray(f)) {
      if (typeof f[0] === 'string' && f.length === 3) {
        all.push(f[0]);
        if (depth === 0) top.push(f[0]);
      } else f.forEach((x) => walk(x, depth));
    } else if (f && typeof f === 'object') for (const k of ['and', 'or'] as const) if (k in f) walk(f[k], depth + (k === 'or' ? 1 : 0));
  };
  walk(q.where ?? [], 0);
  const order = Array.isArray(q.order_by) ? q.order_by.flatMap((o) => (Array.isArray(o) && typeof o[0] === 'string' ? [o[0]] : [])) : [];
  return { top, all, order };
}

/** The fields of a query no index serves, when the server has to read every document of the
 *  collection to answer it (no filter at the top level on an indexed field, and a filter or
 *  an order that is not by id); an empty list when an index (or the id) narrows it. A field
 *  is served by an index that starts with one of the query's fields and holds it. */
export function unindexed(q: Record<string, Json>, indexes: { fields: [string, string][] }[]): string[] {
  const { top, all, order } = paths(q);
  const used = new Set([...all, ...order]);
  const useful = indexes.filter((i) => i.fields.length && used.has(i.fields[0][0]));
  const served = (p: string) => p === 'id' || useful.some((i) => i.fields.some(([f]) => f === p));
  if (top.some(served)) return [];
  const left = [...used].filter((p) => !served(p));
  return left;
}
