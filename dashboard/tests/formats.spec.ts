// The import/export formats, the query builder and the diff, without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseCsv, serialize } from '../src/lib/formats.ts';
import { buildQuery, unindexed } from '../src/lib/query.ts';
import { diffLines } from '../src/lib/util.ts';
import type { Doc } from '../src/lib/types.ts';

test('CSV: quotes, escaped quotes, commas and newlines inside fields, CRLF', () => {
  assert.deepEqual(parseCsv('a,b\r\n"x, y","say ""hi"""\n"two\nlines",z\n'), [
    ['a', 'b'],
    ['x, y', 'say "hi"'],
    ['two\nlines', 'z'],
  ]);
});

test('CSV rows: id column, dotted headers nest, JSON cells typed, empty cells left out, wrong field count is a row error', () => {
  const rows = parse('id,name,age,address.city,tags\nu1,Ada,36,Oslo,"[""a""]"\n,Bob,,Bergen,\nbad,row\n', 'csv');
  assert.deepEqual(rows, [
    { line: 2, id: 'u1', data: { name: 'Ada', age: 36, address: { city: 'Oslo' }, tags: ['a'] } },
    { line: 3, id: undefined, data: { name: 'Bob', address: { city: 'Bergen' } } },
    { line: 4, error: '2 fields, the header has 5' },
  ]);
});

test('NDJSON and JSON rows: exported documents and plain objects, errors per line', () => {
  const rows = parse('{"id":"a","collection":"p","version":3,"data":{"x":1}}\n\n{"y":2}\n[1]\n{oops', 'ndjson');
  assert.deepEqual(rows.slice(0, 3), [
    { line: 1, id: 'a', data: { x: 1 } },
    { line: 3, id: undefined, data: { y: 2 } },
    { line: 4, error: 'not a JSON object' },
  ]);
  assert.equal(rows[3].line, 5);
  assert.ok(rows[3].error);
  assert.deepEqual(parse('{"a":1}', 'json'), [{ line: 1, error: 'expected a JSON array of objects' }]);
  assert.deepEqual(parse('[{"id":"k","v":1}]', 'json'), [{ line: 1, id: 'k', data: { v: 1 } }]);
});

test('export round-trips through import in every format', () => {
  const docs: Doc[] = [
    { id: 'a', collection: 'p', version: 1, created_at: 't', updated_at: 't', data: { title: 'x, "y"', n: 2, meta: { lang: 'en' }, tags: ['t'] } },
    { id: 'b', collection: 'p', version: 1, created_at: 't', updated_at: 't', data: { title: 'line\nbreak' } },
  ];
  for (const f of ['json', 'ndjson', 'csv'] as const) {
    const back = parse(serialize(docs, f), f).map((r) => [r.id, r.data]);
    assert.deepEqual(back, docs.map((d) => [d.id, d.data]), f);
  }
});

test('query builder writes API.md query JSON with typed values', () => {
  assert.deepEqual(
    buildQuery(
      [
        { path: 'age', op: '>=', value: '18' },
        { path: 'city', op: 'in', value: '["Oslo","Bergen"]' },
        { path: 'name', op: 'prefix', value: 'Ad' },
        { path: ' ', op: '==', value: 'ignored' },
      ],
      [{ path: 'age', dir: 'desc' }],
    ),
    { where: [['age', '>=', 18], ['city', 'in', ['Oslo', 'Bergen']], ['name', 'prefix', 'Ad']], order_by: [['age', 'desc']] },
  );
  assert.deepEqual(buildQuery([], []), {});
});

test('line diff marks added and removed lines', () => {
  assert.deepEqual(diffLines('a\nb\nc', 'a\nc\nd'), [
    { kind: ' ', text: 'a' },
    { kind: '-', text: 'b' },
    { kind: ' ', text: 'c' },
    { kind: '+', text: 'd' },
  ]);
});

test('a query that no index serves names its fields (the server would read the whole collection)', () => {
  const idx = [{ fields: [['n', 'asc']] as [string, string][] }, { fields: [['owner', 'asc'], ['created_at', 'desc']] as [string, string][] }];
  assert.deepEqual(unindexed({}, idx), [], 'everything, by id');
  assert.deepEqual(unindexed({ where: [['n', '>=', 5]] }, idx), []);
  assert.deepEqual(unindexed({ where: [['id', 'prefix', 'a']] }, idx), []);
  assert.deepEqual(unindexed({ where: [['n', '>=', 5], ['title', '==', 'x']] }, idx), [], 'the index on n narrows it first');
  assert.deepEqual(unindexed({ where: [['author.name', '==', 'x']] }, idx), ['author.name']);
  assert.deepEqual(unindexed({ order_by: [['title', 'asc']] }, idx), ['title']);
  assert.deepEqual(unindexed({ order_by: [['created_at', 'desc']] }, idx), ['created_at'], 'a second field alone is not served');
  assert.deepEqual(unindexed({ where: [['owner', '==', 'u1']], order_by: [['created_at', 'desc']] }, idx), []);
  assert.deepEqual(unindexed({ where: [{ or: [['n', '==', 1], ['title', '==', 'x']] }] }, idx), ['title'], 'one branch of an or without an index');
  assert.deepEqual(unindexed({ where: [['title', '==', 'x']] }, []), ['title']);
});
