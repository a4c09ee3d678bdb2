// A config issue and how it reads: shared by the hand-written rules (validate.ts) and the schema's
// error walk (schema-errors.ts), which is loaded only when a document fails the schema.

export interface ConfigIssue {
  /** Dotted path into the document, e.g. `routes[0].backends[1].backend`. */
  path: string;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path ? `${issue.path}: ${issue.message}` : issue.message;
}

/** `/routes/0/backends/1` → `routes[0].backends[1]` */
export function pointerToPath(pointer: string, base = ''): string {
  let out = base;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(token) ? `[${token}]` : out ? `.${token}` : token;
  }
  return out;
}
