export function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

/** The colour of a run's or a delivery's status: done, failed for good, or still going. */
export function statusClass(status: string): string {
  return status === 'ok' ? 'ok' : status === 'error' || status === 'dead' ? 'bad' : 'muted';
}

export function when(t: string | null | undefined): string {
  if (!t) return 'never';
  const d = new Date(t);
  return isNaN(d.getTime()) ? t : d.toLocaleString();
}

/** A line diff (longest common subsequence), enough for rules, schemas and indexes. */
export function diffLines(a: string, b: string): { kind: ' ' | '+' | '-'; text: string }[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: { kind: ' ' | '+' | '-'; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ kind: ' ', text: x[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ kind: '-', text: x[i++] });
    else out.push({ kind: '+', text: y[j++] });
  }
  while (i < n) out.push({ kind: '-', text: x[i++] });
  while (j < m) out.push({ kind: '+', text: y[j++] });
  return out;
}

/** The server's default outbox retry waits, in seconds. */
export const DEFAULT_RETRY_DELAYS = [5, 300, 1800, 7200, 18000, 36000];

/** The outbox's retry waits (seconds, at least one) in words: `[5, 300, 7200]` → "about 5 s, 5 min, 2 h". */
export function retryWaits(seconds: number[]): string {
  const one = (s: number) => {
    const [v, unit] = s < 60 ? [s, 's'] : s < 3600 ? [s / 60, 'min'] : [s / 3600, 'h'];
    return `${Number(v.toFixed(1))} ${unit}`;
  };
  return `about ${seconds.map(one).join(', ')}`;
}

/** The most operations `POST /v1/db/batch` takes in one request (docs/documents.md, Batches). */
export const BATCH_LIMIT = 500;

/** A push device's address, short enough for a table cell: a Web Push endpoint as its host and
 *  the end of its path, an FCM or APNs token as its first and last characters. */
export function shortAddress(address: string): string {
  if (/^https?:\/\//.test(address)) {
    try {
      const u = new URL(address);
      const path = u.pathname.replace(/\/+$/, '');
      const tail = path.length > 9 ? `/…${path.slice(-8)}` : path;
      return `${u.host}${tail}`;
    } catch {
      // Not a URL after all: shortened as a token.
    }
  }
  return address.length <= 20 ? address : `${address.slice(0, 8)}…${address.slice(-6)}`;
}

/** A push service's name as people write it. */
export function pushKind(kind: string): string {
  return kind === 'webpush' ? 'Web Push' : kind === 'fcm' ? 'FCM' : kind === 'apns' ? 'APNs' : kind;
}
