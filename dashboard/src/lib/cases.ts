// Saved rules-playground cases, kept on the server per collection (/v1/admin/rules/cases):
// a request against one of the collection's stored rules, as one caller, with the outcome the
// admin expects. The playground saves and runs them; the collection editor runs them against
// a draft of its rules before saving.
import { api, enc } from './api';
import type { Json, Operation } from './types';

export interface SavedCase {
  collection: string;
  name: string;
  operation: Operation;
  caller: string;
  auth: Json;
  doc: Json;
  data: Json;
  request?: Record<string, Json>;
  expect_allowed: boolean;
  created_at: string;
  updated_at: string;
}

export interface CaseResult {
  name: string;
  operation: Operation;
  caller: string;
  expect_allowed: boolean;
  allowed: boolean;
  error: string | null;
  /** The outcome is not the one the case expects. */
  changed: boolean;
}

export interface CaseRun {
  results: CaseResult[];
  changed: number;
}

/** The longest name the server takes. */
export const MAX_NAME = 100;

export async function listCases(collection: string): Promise<SavedCase[]> {
  return (await api<{ cases: SavedCase[] }>(`/v1/admin/rules/cases?collection=${enc(collection)}`)).cases;
}

export function saveCase(
  collection: string,
  name: string,
  body: { operation: Operation; caller: string; auth: Json; doc: Json; data: Json; expect_allowed: boolean },
): Promise<SavedCase> {
  return api<SavedCase>(`/v1/admin/rules/cases/${enc(collection)}/${enc(name)}`, { method: 'PUT', body });
}

export function deleteCase(collection: string, name: string): Promise<unknown> {
  return api(`/v1/admin/rules/cases/${enc(collection)}/${enc(name)}`, { method: 'DELETE' });
}

/** Runs every case of the collection against its stored rules, or against `draft` (an
 *  operation's text, or null for no rule; an operation left out keeps its stored rule). */
export function runCases(collection: string, draft?: Partial<Record<Operation, string | null>>): Promise<CaseRun> {
  return api<CaseRun>(`/v1/admin/rules/cases/${enc(collection)}/run`, { method: 'POST', body: draft ? { rules: draft } : {} });
}

export const outcome = (allowed: boolean) => (allowed ? 'allowed' : 'denied');

type Verb = [one: string, many: string];

/** "2 of 5 saved cases change outcome: a, b." or "All 5 saved cases keep their outcome.",
 *  with the verb for one case or several. */
export function summary(run: CaseRun, verb: { changed: Verb; kept: Verb }): string {
  const n = run.results.length;
  if (!run.changed) return n === 1 ? `The saved case ${verb.kept[0]}.` : `All ${n} saved cases ${verb.kept[1]}.`;
  const names = run.results.filter((r) => r.changed).map((r) => r.name);
  const which = run.changed === n ? (n === 1 ? 'The saved case' : `All ${n} saved cases`) : `${run.changed} of ${n} saved cases`;
  return `${which} ${verb.changed[run.changed === 1 ? 0 : 1]}: ${names.join(', ')}.`;
}
