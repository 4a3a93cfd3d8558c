// A small Rhai highlighter: keywords, the names rules see, strings, numbers, comments.
import { StreamLanguage, type StreamParser } from '@codemirror/language';

const keywords = new Set([
  'let', 'const', 'if', 'else', 'switch', 'while', 'loop', 'for', 'in', 'do', 'until', 'break',
  'continue', 'return', 'throw', 'try', 'catch', 'fn', 'private', 'import', 'export', 'as',
]);
const atoms = new Set(['true', 'false']);
const scope = new Set(['auth', 'doc', 'data', 'request', 'collection', 'object', 'channel']);
const helpers = new Set(['get', 'exists', 'now', 'matches', 'len', 'contains', 'type_of']);

interface State {
  inComment: boolean;
}

const parser: StreamParser<State> = {
  name: 'rhai',
  startState: () => ({ inComment: false }),
  token(stream, state) {
    if (state.inComment) {
      if (stream.skipTo('*/')) {
        stream.pos += 2;
        state.inComment = false;
      } else stream.skipToEnd();
      return 'comment';
    }
    if (stream.eatSpace()) return null;
    if (stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.match('/*')) {
      state.inComment = true;
      return 'comment';
    }
    const ch = stream.peek();
    if (ch === '"' || ch === '`') {
      stream.next();
      let escaped = false;
      for (;;) {
        const c = stream.next();
        if (c === undefined || (c === ch && !escaped)) break;
        escaped = !escaped && c === '\\';
      }
      return 'string';
    }
    if (stream.match(/^\d[\d_]*(\.\d+)?([eE][+-]?\d+)?/)) return 'number';
    if (stream.match(/^#\{/)) return 'bracket';
    if (stream.match(/^\(\)/)) return 'atom';
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) {
      const w = word[0];
      if (keywords.has(w)) return 'keyword';
      if (atoms.has(w)) return 'atom';
      if (scope.has(w)) return 'variableName.special';
      if (helpers.has(w) && stream.peek() === '(') return 'function';
      return 'variableName';
    }
    if (stream.match(/^(==|!=|<=|>=|&&|\|\||[+\-*/%<>!=.?:])/)) return 'operator';
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: '//', block: { open: '/*', close: '*/' } } },
};

export const rhai = StreamLanguage.define(parser);
