// Every list the operator makes is paged (limit/continue), so neither the API server nor the
// operator has to hold a whole collection in one response. The pages of one list share the first
// page's resourceVersion (the API server serves them from one snapshot), which is what the watch
// that follows starts from.
export const PAGE_SIZE = 500;

export interface ListPage<T> {
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
  items: T[];
}

/** Calls `page` until the server says there is no more; one list, all items. */
export async function listAllPages<T>(page: (opts: { limit: number; _continue?: string }) => Promise<ListPage<T>>, limit = PAGE_SIZE): Promise<{ metadata: { resourceVersion?: string }; items: T[] }> {
  const items: T[] = [];
  let resourceVersion: string | undefined;
  let next: string | undefined;
  do {
    const p = await page({ limit, ...(next ? { _continue: next } : {}) });
    resourceVersion ??= p.metadata?.resourceVersion;
    items.push(...p.items);
    next = p.metadata?._continue ?? p.metadata?.continue ?? undefined;
  } while (next);
  return { metadata: resourceVersion ? { resourceVersion } : {}, items };
}
