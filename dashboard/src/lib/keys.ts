// Keyboard helpers shared by the screens.

/** Whether an Escape pressed on `target` belongs to something inside `node` rather than to
 *  `node` itself: a code editor (where Escape lets the next Tab leave the editor instead of
 *  indenting) or a dialog opened from within. */
function escapeTakenInside(node: HTMLElement, target: EventTarget | null): boolean {
  if (!(target instanceof Element)) return false;
  if (target.closest('.cm-editor')) return true;
  const d = target.closest('dialog');
  return !!d && d !== node && node.contains(d);
}

/** Svelte action: Escape pressed inside the element calls `close` (a drawer, a form opened by
 *  a button). The caller moves the focus back to whatever opened it. */
export function escapeCloses(node: HTMLElement, close: () => void) {
  let fn = close;
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || e.defaultPrevented || e.isComposing || escapeTakenInside(node, e.target)) return;
    e.preventDefault();
    fn();
  };
  node.addEventListener('keydown', onKey);
  return {
    update(c: () => void) {
      fn = c;
    },
    destroy() {
      node.removeEventListener('keydown', onKey);
    },
  };
}
