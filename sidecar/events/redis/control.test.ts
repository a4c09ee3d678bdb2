import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hasRedis, RedisServer, until } from '../../../test/redis/support.ts';
import type { ControlMessage } from '../control.ts';
import { StoreLink } from './connection.ts';
import { CONTROL_FIELD, ControlChannel, decodeControl, encodeControl } from './control.ts';
import { KeyLayout, type StreamEntry } from './keys.ts';

const keys = new KeyLayout('ctl-test:');

describe('control messages: one type, encoded and checked', () => {
  test.each<ControlMessage>([
    { op: 'cancel', id: 'req-1' },
    { op: 'complete', id: 'req-2', payload: { approved: true, note: 'ok' } },
    { op: 'complete', id: 'req-3', payload: null },
  ])('$op round-trips unchanged', (msg) => {
    expect(decodeControl(encodeControl(msg))).toEqual(msg);
  });

  test('a /complete without a payload arrives with payload undefined (what the backend sent: nothing)', () => {
    expect(decodeControl('{"op":"complete","id":"r"}')).toEqual({ op: 'complete', id: 'r', payload: undefined });
  });

  test('fields that are not part of the message are not carried along', () => {
    expect(decodeControl('{"op":"cancel","id":"r","payload":1,"extra":"x"}')).toEqual({ op: 'cancel', id: 'r' });
  });

  test.each([
    [undefined, `no "${CONTROL_FIELD}" field`],
    ['{not json', 'not JSON'],
    ['["cancel","r"]', 'not an object'],
    ['null', 'not an object'],
    ['{"op":"cancel"}', 'no request id'],
    ['{"op":"cancel","id":""}', 'no request id'],
    ['{"op":"delete","id":"r"}', 'unknown op "delete"'],
  ])('refused, saying why: %s', (raw, why) => {
    expect(() => decodeControl(raw)).toThrow(why);
  });
});

describe('control channel: receiving', () => {
  // receiving needs no connection: a client that never dials
  const idle = new Redis({ lazyConnect: true });
  afterAll(() => idle.disconnect());
  function channel() {
    const warnings: string[] = [];
    const logger = { warn: (_obj: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
    const ch = new ControlChannel(new StoreLink(idle, 'redis://idle', undefined, undefined), keys, 'me', 10_000, logger);
    const got: ControlMessage[] = [];
    return { ch, got, warnings };
  }
  const entry = (id: string, json: string): StreamEntry => [id, [CONTROL_FIELD, json]];

  test('each good message reaches the service in order; a bad one is logged and skipped, never handed on', () => {
    const { ch, got, warnings } = channel();
    ch.onMessage = (m) => got.push(m);
    ch.receive([entry('1-0', '{"op":"cancel","id":"a"}'), entry('2-0', '{"op":"explode"}'), entry('3-0', '{"op":"complete","id":"b","payload":7}')]);
    expect(got).toEqual([
      { op: 'cancel', id: 'a' },
      { op: 'complete', id: 'b', payload: 7 },
    ]);
    expect(warnings).toEqual(['bad control message']);
  });

  test('a handler that throws on one message does not stop the next (the follower that delivers them serves every stream)', () => {
    const { ch, got, warnings } = channel();
    ch.onMessage = (m) => {
      if (m.id === 'a') throw new Error('boom');
      got.push(m);
    };
    expect(() => ch.receive([entry('1-0', '{"op":"cancel","id":"a"}'), entry('2-0', '{"op":"cancel","id":"b"}')])).not.toThrow();
    expect(got).toEqual([{ op: 'cancel', id: 'b' }]);
    expect(warnings).toEqual(['control message failed']);
  });
});

describe.skipIf(!hasRedis)('control channel: sending, on a real Redis', () => {
  let redis: RedisServer;
  let c: Redis;
  beforeAll(async () => {
    redis = await new RedisServer().start();
    c = redis.client();
    await until('client ready', () => c.status === 'ready');
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test("a message goes to the owner's control stream as one entry the owner decodes to the same message; the stream expires after 10 leases (at least a minute)", async () => {
    const ch = new ControlChannel(new StoreLink(c, redis.url, undefined, undefined), keys, 'me', 10_000, undefined);
    expect(ch.key).toBe(keys.control('me'));
    const msg: ControlMessage = { op: 'complete', id: 'req-9', payload: { ok: true } };
    await ch.send('owner-1', msg);
    const entries = (await c.xrange(keys.control('owner-1'), '-', '+')) as StreamEntry[];
    expect(entries.length).toBe(1);
    const received: ControlMessage[] = [];
    const owner = new ControlChannel(new StoreLink(c, redis.url, undefined, undefined), keys, 'owner-1', 10_000, undefined);
    owner.onMessage = (m) => received.push(m);
    owner.receive(entries);
    expect(received).toEqual([msg]);
    const ttl = await c.pttl(keys.control('owner-1'));
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(100_000);
  });
});
