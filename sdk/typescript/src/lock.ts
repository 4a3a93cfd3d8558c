/**
 * One holder at a time for a name: across tabs with Web Locks (`navigator.locks`) when the
 * platform has them, and always within this process (a chain of promises per name and storage).
 */
const chains = new WeakMap<object, Map<string, Promise<unknown>>>();

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function webLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks && typeof nav.locks.request === "function" ? nav.locks : null;
}

export async function withLock<T>(scope: object, name: string, fn: () => Promise<T>): Promise<T> {
  let byName = chains.get(scope);
  if (!byName) {
    byName = new Map();
    chains.set(scope, byName);
  }
  const previous = byName.get(name) ?? Promise.resolve();
  const locks = webLocks();
  const run = (): Promise<T> => (locks ? locks.request(name, fn) : fn());
  const result = previous.then(run, run);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  byName.set(name, settled);
  void settled.then(() => {
    if (byName.get(name) === settled) byName.delete(name);
  });
  return result;
}
