import { Redis, ReplyError } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import { connectionOptions, isConnectionError, redactUrl, StoreLink } from './connection.ts';

const replyError = (message: string): Error => new ReplyError(message) as Error;

describe('connection options from the journal URL', () => {
  test('host, port, database and user come from the URL; defaults 6379 and db 0', () => {
    expect(connectionOptions('redis://cache.internal', undefined, 'n')).toMatchObject({ host: 'cache.internal', port: 6379, db: 0, connectionName: 'n' });
    const o = connectionOptions('redis://app%40team@10.0.0.7:6380/3', 'pw', 'n');
    expect(o).toMatchObject({ host: '10.0.0.7', port: 6380, db: 3, username: 'app@team', password: 'pw' });
    expect(o.tls).toBeUndefined();
  });

  test('rediss:// turns TLS on and checks the certificate against the host name; an IP (v4 or v6) gets no SNI name', () => {
    expect(connectionOptions('rediss://cache.example.com:6380', undefined, 'n').tls).toEqual({ servername: 'cache.example.com' });
    expect(connectionOptions('rediss://10.0.0.7', undefined, 'n').tls).toEqual({});
    const v6 = connectionOptions('rediss://[::1]:6380', undefined, 'n');
    expect(v6.host).toBe('::1');
    expect(v6.tls).toEqual({});
  });

  test('commands never wait in an unbounded offline queue and are never resent by the client (the journal retries its own bounded queue)', () => {
    expect(connectionOptions('redis://c', undefined, 'n')).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, protocol: 2 });
  });

  test('a URL that is not redis:// or rediss://, or a path that is not a database number, is refused with the reason', () => {
    expect(() => connectionOptions('http://cache:6379', undefined, 'n')).toThrow('journal.url must be redis:// or rediss://, got http:');
    expect(() => connectionOptions('redis://cache/cache', undefined, 'n')).toThrow('journal.url: "/cache" is not a database number');
  });

  test('a URL in a log line never carries a password; an unparsable one is not echoed', () => {
    expect(redactUrl('redis://user:hunter2@cache:6379/1')).toBe('redis://user@cache:6379/1');
    expect(redactUrl('redis://user:hunter2@')).not.toContain('hunter2');
    expect(redactUrl('not a url hunter2')).toBe('(invalid URL)');
  });
});

describe('connection failure or refusal', () => {
  test('a dropped or timed-out connection is a connection failure; so is a reply that says "not now" (loading, failover, busy)', () => {
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    for (const m of ['LOADING Redis is loading the dataset in memory', 'READONLY You can\'t write against a read only replica.', 'BUSY Redis is busy running a script', 'MASTERDOWN Link with MASTER is down', 'NOSCRIPT No matching script'])
      expect(isConnectionError(replyError(m))).toBe(true);
  });

  test('Redis refusing the command itself is not: retrying it would be refused again', () => {
    expect(isConnectionError(replyError('ERR wrong number of arguments'))).toBe(false);
    expect(isConnectionError(replyError('OOM command not allowed when used memory > maxmemory'))).toBe(false);
  });
});

describe('StoreLink without a reachable store', () => {
  // lazyConnect: the client never dials, so the link is down from the start
  const client = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true });
  afterAll(() => client.disconnect());

  test('a command is not sent: it fails as 503 unavailable naming the store (without its password), retry soon', async () => {
    const link = new StoreLink(client, redactUrl('redis://u:hunter2@127.0.0.1:1'), undefined, undefined);
    expect(link.up).toBe(false);
    let sent = false;
    const err = await link.io(async () => (sent = true)).catch((e: unknown) => e);
    expect(sent).toBe(false);
    expect(err).toBeInstanceOf(AirouteError);
    expect(err).toMatchObject({ code: 'unavailable', status: 503, details: { retryAfterMs: 1_000 } });
    expect((err as Error).message).toContain('journal store redis://u@127.0.0.1:1 is unreachable (wait');
    expect((err as Error).message).not.toContain('hunter2');
  });

  test('a config error (an unresolvable password) keeps the journal down and says why', () => {
    const link = new StoreLink(client, 'redis://127.0.0.1:1', 'journal.password: REDIS_PASSWORD is not set', undefined);
    expect(link.usable).toBe(false);
    expect(link.unavailable()).toBe('journal store redis://127.0.0.1:1 is not usable: journal.password: REDIS_PASSWORD is not set');
  });

  test('storeError: a refusal passes through unchanged; a connection failure becomes 503 with the reason given', () => {
    const link = new StoreLink(client, 'redis://127.0.0.1:1', undefined, undefined);
    const refusal = replyError('ERR unknown command');
    expect(link.storeError(undefined, refusal)).toBe(refusal);
    const down = link.storeError('the store is down', new Error('Connection is closed.'));
    expect(down).toMatchObject({ code: 'unavailable', status: 503, message: 'the store is down' });
  });
});
