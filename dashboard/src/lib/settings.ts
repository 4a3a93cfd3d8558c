import { api } from './api';
import { DEFAULT_RETRY_DELAYS } from './util';

/** The server's outbox retry waits in seconds (`outbox_retry_delays`), or the default ones when the settings cannot be read. */
export async function outboxRetryDelays(): Promise<number[]> {
  try {
    const a = await api<{ settings: { key: string; value: unknown }[] }>('/v1/admin/settings');
    const v = a.settings.find((x) => x.key === 'outbox_retry_delays')?.value;
    if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  } catch {
    // The default waits below.
  }
  return DEFAULT_RETRY_DELAYS;
}
