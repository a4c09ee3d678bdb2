// Secret values must never reach status, Events, logs or errors. Messages built from sidecar
// answers or validation issues pass through here with every secret the operator resolved.
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
