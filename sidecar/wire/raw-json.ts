// A client's JSON body as the text it arrived in, with where each top-level member's value sits.
// A backend of the client's own format gets that text back with a few top-level members changed
// (the model, the stream flags): splicing them in costs a few short string slices, where
// parsing, copying and serialising the whole body again cost time and garbage proportional to
// the prompt, which is most of a request's bytes. Found in the pass that already bounds the
// nesting depth, so a body is scanned once.

/** Where a top-level member's value starts and ends (exclusive) in the text. */
export interface ValueSpan {
  start: number;
  end: number;
}

export interface RawJson {
  readonly text: string;
  /** The top-level members' values by name; undefined when a name appears twice or escaped (splicing then could not say which one a server reads). */
  readonly members: ReadonlyMap<string, ValueSpan> | undefined;
  /** Where the closing brace of the top-level object is. */
  readonly close: number;
}

export type Scan = { tooDeep: true } | { tooDeep: false; raw: RawJson };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** The index of the quote that closes the string opened at `open`: the next one preceded by an even number of backslashes; -1 if none. */
function stringEnd(text: string, open: number): number {
  let end = open;
  for (;;) {
    end = text.indexOf('"', end + 1);
    if (end === -1) return -1;
    let slashes = 0;
    while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return end;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The end of a value that ends before `stop` (a comma or the closing brace), its trailing whitespace left out. */
function trimEnd(text: string, stop: number): number {
  let end = stop;
  while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
  return end;
}

/**
 * Scans text that JSON.parse has accepted as an object: whether it nests deeper than `depthLimit`,
 * and else its top-level members. Strings are skipped with indexOf (a long prompt costs little);
 * between them a character loop that allocates nothing but one entry per top-level member.
 */
export function scanJsonObject(text: string, depthLimit: number): Scan {
  const members = new Map<string, ValueSpan>();
  let duplicate = false;
  let depth = 0;
  let close = -1;
  // At depth 1: the name just read (waiting for its colon), and the member whose value is being read.
  let name: string | undefined;
  let current: ValueSpan | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) break; // unterminated: the parser would have refused it
      if (depth === 1 && current === undefined) name = text.slice(i + 1, end);
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > depthLimit) return { tooDeep: true };
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) {
        close = i;
        if (current) current.end = trimEnd(text, i);
      }
    } else if (depth === 1 && c === COLON && name !== undefined) {
      let start = i + 1;
      while (isSpace(text.charCodeAt(start))) start++;
      current = { start, end: start };
      // A name with an escape (`"mod\u0065l"`) is another spelling of a name JSON.parse reads the
      // same: splicing could leave the client's own value as the one a server reads, so it counts
      // as a duplicate, like a name given twice.
      if (members.has(name) || name.includes('\\')) duplicate = true;
      members.set(name, current);
      name = undefined;
    } else if (depth === 1 && c === COMMA && current) {
      current.end = trimEnd(text, i);
      current = undefined;
    }
  }
  return { tooDeep: false, raw: { text, members: duplicate ? undefined : members, close } };
}

/**
 * What every same-format upstream body changes, as JSON texts: the model, and the stream flag when
 * the attempt's differs from the client's (`stream` undefined: an endpoint without one).
 */
export function modelAndStream(body: Readonly<Record<string, unknown>>, model: string, stream?: boolean): Record<string, string> {
  const set: Record<string, string> = { model: JSON.stringify(model) };
  if (stream !== undefined && body.stream !== stream) set.stream = String(stream);
  return set;
}

/**
 * The body with top-level members set to the given JSON texts: an existing member's value is
 * replaced in place, a new one goes last (where `{...body, key}` would put it). Undefined when
 * the body's members are not known (a duplicated name).
 */
export function withMembers(raw: RawJson, set: Readonly<Record<string, string>>): string | undefined {
  const members = raw.members;
  if (!members || raw.close < 0) return undefined;
  const replaced: { span: ValueSpan; json: string }[] = [];
  let appended = '';
  for (const key in set) {
    const span = members.get(key);
    if (span) replaced.push({ span, json: set[key]! });
    else appended += `${members.size > 0 || appended ? ',' : ''}${JSON.stringify(key)}:${set[key]!}`;
  }
  replaced.sort((a, b) => a.span.start - b.span.start);
  let out = '';
  let at = 0;
  for (const { span, json } of replaced) {
    out += raw.text.slice(at, span.start) + json;
    at = span.end;
  }
  return out + raw.text.slice(at, raw.close) + appended + raw.text.slice(raw.close);
}
