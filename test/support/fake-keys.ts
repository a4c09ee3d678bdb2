// Key-shaped test values, assembled at run time: the redaction tests need strings shaped like real
// provider keys (the pattern-based scrubber must catch them), but such literals in the source read as
// leaked secrets to scanners and reviewers. None of these is, or ever was, a real key.

/** A fake key in a provider's shape: `fakeKey('sk', 'proj', 'TAG')` is `sk-proj-TAG`. */
export const fakeKey = (...parts: string[]): string => parts.join('-');
