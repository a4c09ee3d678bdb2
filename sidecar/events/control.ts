// Messages between sidecar replicas that share a journal store.
/**
 * What one replica asks of the replica that runs a request (shared stores): a cancel, or a
 * /complete call, that reached it instead. The service sends it through AsyncStore.forward and
 * acts on it in AsyncService.control; events/redis/control.ts carries it between them (the journal store is the one
 * channel every replica already has).
 */
export type ControlMessage = { op: 'cancel'; id: string } | { op: 'complete'; id: string; payload: unknown };
