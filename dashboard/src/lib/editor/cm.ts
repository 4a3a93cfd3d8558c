// CodeMirror 6, loaded only when an editor is on screen.
import { EditorState, type Extension } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, HighlightStyle, syntaxHighlighting, indentOnInput } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';
import { json } from '@codemirror/lang-json';
import { lintGutter, setDiagnostics, type Diagnostic } from '@codemirror/lint';
import { rhai } from './rhai';

export interface Mark {
  line: number | null;
  column: number | null;
  message: string;
}

export interface Handle {
  set(value: string): void;
  mark(marks: Mark[]): void;
  /** Moves the keyboard focus into the editor, the cursor at the end. */
  focus(): void;
  destroy(): void;
}

const theme = EditorView.theme({
  '&': { fontSize: '13px', border: '1px solid var(--border)', borderRadius: '6px', background: 'var(--input-bg)' },
  // One font for content and gutter, so line numbers sit on their lines.
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.5', minHeight: '4.5em', maxHeight: '28em' },
  '.cm-content': { caretColor: 'var(--fg)' },
  '.cm-gutters': { background: 'var(--panel)', color: 'var(--muted)', border: 'none' },
  '&.cm-focused': { outline: '2px solid var(--accent)' },
  '.cm-activeLine': { background: 'var(--hover)' },
});

// Token colours from the page's theme variables, so both themes keep WCAG AA contrast.
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.operatorKeyword], color: 'var(--syn-keyword)' },
  { tag: [t.string, t.special(t.string), t.regexp, t.escape], color: 'var(--syn-string)' },
  { tag: [t.number, t.integer, t.float], color: 'var(--syn-number)' },
  { tag: [t.bool, t.null, t.atom], color: 'var(--syn-atom)' },
  { tag: [t.propertyName, t.special(t.variableName)], color: 'var(--syn-name)' },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], color: 'var(--syn-function)' },
  { tag: [t.comment, t.lineComment, t.blockComment], color: 'var(--muted)', fontStyle: 'italic' },
  { tag: t.invalid, color: 'var(--danger)' },
]);

export function createEditor(
  parent: HTMLElement,
  opts: { value: string; lang: 'json' | 'rhai'; label: string; onChange: (v: string) => void; readonly?: boolean },
): Handle {
  const extensions: Extension[] = [
    lineNumbers(),
    history(),
    drawSelection(),
    highlightActiveLine(),
    indentOnInput(),
    bracketMatching(),
    syntaxHighlighting(highlight),
    keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
    lintGutter(),
    theme,
    opts.lang === 'json' ? json() : rhai,
    // tabindex: the content is what the keyboard scrolls, and checkers count it as focusable.
    EditorView.contentAttributes.of({ 'aria-label': opts.label, tabindex: '0' }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) opts.onChange(u.state.doc.toString());
    }),
    EditorState.readOnly.of(!!opts.readonly),
  ];
  const view = new EditorView({ parent, state: EditorState.create({ doc: opts.value, extensions }) });
  return {
    set(value) {
      if (value !== view.state.doc.toString())
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
    },
    mark(marks) {
      const doc = view.state.doc;
      const diags: Diagnostic[] = marks.map((m) => {
        const line = doc.line(Math.min(Math.max(m.line ?? 1, 1), doc.lines));
        const from = Math.min(line.from + Math.max((m.column ?? 1) - 1, 0), line.to);
        return { from, to: Math.min(from + 1, line.to), severity: 'error', message: m.message };
      });
      view.dispatch(setDiagnostics(view.state, diags));
    },
    focus() {
      view.dispatch({ selection: { anchor: view.state.doc.length } });
      view.focus();
    },
    destroy() {
      view.destroy();
    },
  };
}
