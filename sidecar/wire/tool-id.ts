// Gemini 3 signs each function call (`functionCall.thoughtSignature`) and refuses the next turn
// unless the signature comes back on that call. Neither Chat Completions nor Messages has a field
// for it that every client keeps, but every client sends a tool call's id back verbatim (on the
// call and on its result), so the signature rides inside the id: `<id>_tsig_<base64url>`. Ids stay
// within Anthropic's `^[a-zA-Z0-9_-]+$`; a client decoder splits the signature off again, so no
// backend ever sees the long form.
const MARK = '_tsig_';

export function withSignature(id: string, signature: string | undefined): string {
  // A string becomes its UTF-8 bytes (Buffer.from's default encoding for strings).
  return signature ? `${id}${MARK}${Buffer.from(signature).toString('base64url')}` : id;
}

export function splitSignature(id: string): { id: string; signature?: string } {
  const at = id.indexOf(MARK);
  if (at === -1) return { id };
  const signature = Buffer.from(id.slice(at + MARK.length), 'base64url').toString('utf8');
  return signature ? { id: id.slice(0, at), signature } : { id: id.slice(0, at) };
}
