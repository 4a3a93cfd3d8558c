// The one place the dashboard talks to the server: the public API with an admin token.
import { untrack } from 'svelte';
import { session, tokenListeners } from './session.svelte';

const TOKEN_KEY = 'basalt.admin.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
    readonly requestId: string | null,
  ) {
    super(message);
  }
}

session.token = sessionStorage.getItem(TOKEN_KEY);

/** The admin token, read without subscribing: a screen's loading effect must not run again
 *  (and overwrite what was typed) when the admin signs in again. */
export function token(): string | null {
  return untrack(() => session.token);
}
export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
  const renewed = !!t && t !== session.token;
  session.token = t;
  if (t) session.expired = false;
  if (renewed) tokenListeners.forEach((f) => f(t));
}

/** The admin token stopped working (expired, revoked, the admin removed): the screen stays as
 *  it is, under a sign-in dialog, so nothing typed is lost; signing in again carries on. */
export function tokenRefused(used: string | null): void {
  // A request sent with an older token does not sign out a newer one.
  if (!session.token || used !== session.token) return;
  setToken(null);
  session.expired = true;
}

export interface SendOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Status codes the caller handles itself (no redirect to sign in on 401). */
  auth?: boolean;
}

export interface Answer<T> {
  data: T;
  status: number;
  headers: Headers;
}

export async function send<T = unknown>(path: string, opts: SendOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  const t = token();
  if (t && opts.auth !== false) headers.authorization = `Bearer ${t}`;
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method ?? 'GET', headers, body });
  } catch (e) {
    throw new ApiError(0, 'network', `network error: ${(e as Error).message}`, {}, null);
  }
  const requestId = res.headers.get('x-request-id');
  const text = res.status === 204 ? '' : await res.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
  }
  if (!res.ok && res.status !== 304) {
    const err = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
    if (res.status === 401 && opts.auth !== false && t) tokenRefused(t);
    throw new ApiError(res.status, err?.code ?? 'unknown', err?.message ?? `HTTP ${res.status}`, err?.details ?? {}, requestId);
  }
  return { data: json as T, status: res.status, headers: res.headers };
}

export async function api<T = unknown>(path: string, opts: SendOptions = {}): Promise<T> {
  return (await send<T>(path, opts)).data;
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

export const enc = encodeURIComponent;
