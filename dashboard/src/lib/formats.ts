// Documents to and from JSON, NDJSON and CSV for import and export.
import type { Doc, Json } from './types';

export type Format = 'json' | 'ndjson' | 'csv';
export interface Row {
  line: number;
  id?: string;
  data?: Record<string, Json>;
  error?: string;
}

function toRow(v: unknown, line: number): Row {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { line, error: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  // An exported document ({id, data, …}) or a plain data object.
  if (typeof o.data === 'object' && o.data !== null && !Array.isArray(o.data))
    return { line, id: typeof o.id === 'string' ? o.id : undefined, data: o.data as Record<string, Json> };
  const { id, ...rest } = o;
  return { line, id: typeof id === 'string' ? id : undefined, data: rest as Record<string, Json> };
}

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

function cell(s: string): Json {
  if (s === '') return null;
  try {
    const v = JSON.parse(s);
    if (typeof v !== 'string') return v as Json;
  } catch {
    /* plain text */
  }
  return s;
}

function setPath(o: Record<string, Json>, path: string, v: Json) {
  const keys = path.split('.');
  let cur = o;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, Json>;
  }
  cur[keys[keys.length - 1]] = v;
}

export function parse(text: string, format: Format): Row[] {
  if (format === 'json') {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return [{ line: 1, error: `not valid JSON: ${(e as Error).message}` }];
    }
    if (!Array.isArray(v)) return [{ line: 1, error: 'expected a JSON array of objects' }];
    return v.map((x, i) => toRow(x, i + 1));
  }
  if (format === 'ndjson') {
    const rows: Row[] = [];
    text.split('\n').forEach((l, i) => {
      if (!l.trim()) return;
      try {
        rows.push(toRow(JSON.parse(l), i + 1));
      } catch (e) {
        rows.push({ line: i + 1, error: (e as Error).message });
      }
    });
    return rows;
  }
  const [head, ...body] = parseCsv(text);
  if (!head) return [];
  return body.map((cells, i) => {
    if (cells.length !== head.length)
      return { line: i + 2, error: `${cells.length} fields, the header has ${head.length}` };
    const data: Record<string, Json> = {};
    let id: string | undefined;
    head.forEach((h, j) => {
      if (h === 'id') id = cells[j] || undefined;
      else if (cells[j] !== '') setPath(data, h.startsWith('data.') ? h.slice(5) : h, cell(cells[j]));
    });
    return { line: i + 2, id, data };
  });
}

function flatten(o: Record<string, Json>, prefix: string, out: Record<string, Json>) {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length)
      flatten(v as Record<string, Json>, `${prefix}${k}.`, out);
    else out[prefix + k] = v;
  }
}

function csvField(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function serialize(docs: Doc[], format: Format): string {
  if (format === 'json') return JSON.stringify(docs, null, 2) + '\n';
  if (format === 'ndjson') return docs.map((d) => JSON.stringify(d)).join('\n') + (docs.length ? '\n' : '');
  const flat = docs.map((d) => {
    const o: Record<string, Json> = {};
    flatten(d.data, '', o);
    return o;
  });
  const cols = [...new Set(flat.flatMap((o) => Object.keys(o)))].sort();
  const lines = [['id', ...cols].join(',')];
  docs.forEach((d, i) => lines.push([csvField(d.id), ...cols.map((c) => csvField(flat[i][c]))].join(',')));
  return lines.join('\n') + '\n';
}
