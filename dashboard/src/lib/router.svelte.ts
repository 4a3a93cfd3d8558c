// Client-side routing with real paths under /_/ (History API).
export const BASE = '/_/';

function current(): string {
  const p = location.pathname;
  return p.startsWith(BASE) ? p.slice(BASE.length).replace(/\/$/, '') : '';
}

export const route = $state({ path: current(), search: location.search });

export function navigate(path: string, replace = false): void {
  const url = BASE + path.replace(/^\//, '');
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  const q = url.indexOf('?');
  route.path = (q < 0 ? url : url.slice(0, q)).slice(BASE.length).replace(/\/$/, '');
  route.search = q < 0 ? '' : url.slice(q);
}

/** Replaces the query string of the current page (`?a=b`, or '' for none), keeping its path. */
export function setSearch(search: string): void {
  history.replaceState(null, '', location.pathname + search);
  route.search = search;
}

addEventListener('popstate', () => {
  route.path = current();
  route.search = location.search;
});

// Same-origin links under /_/ navigate without a reload.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith(BASE)) return;
  e.preventDefault();
  navigate(href.slice(BASE.length));
});

export function href(path: string): string {
  return BASE + path;
}
