import { createServer, connect, type AddressInfo } from 'node:net';
import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { allowedBy, checkDestination, forbiddenAddress, networkList, parseAllowEntry, parseNetwork, pinnedLookup, systemResolver, type DestinationPolicy, type ResolvedAddress } from './destinations.ts';

const entries = ['https://hooks.example.com', 'http://127.0.0.1:3510/hooks', 'https://api.example.com/v1/cb/'].map((e) => parseAllowEntry(e)!);
const allowed = (u: string) => allowedBy(new URL(u), entries);

test('entries are plain http(s) URLs: credentials, queries and fragments are refused', () => {
  expect(parseAllowEntry('https://hooks.example.com')).toEqual({ protocol: 'https:', host: 'hooks.example.com', port: '443', segments: [] });
  expect(parseAllowEntry('http://[::1]:8080/a/b/')).toEqual({ protocol: 'http:', host: '::1', port: '8080', segments: ['a', 'b'] });
  for (const bad of ['ftp://x', 'https://u:p@x', 'https://u@x', 'https://:p@x', 'https://x/?q=1', 'https://x/#f', 'not a url']) expect(parseAllowEntry(bad), bad).toBeUndefined();
});

test('scheme, host and port match exactly; the path by whole segments', () => {
  expect(allowed('https://hooks.example.com/anything/at/all')).toBe(true);
  expect(allowed('https://hooks.example.com:443/x')).toBe(true);
  expect(allowed('https://HOOKS.example.com./x')).toBe(true);
  expect(allowed('https://hooks.example.com.evil.com/')).toBe(false);
  expect(allowed('https://evil.hooks.example.com/')).toBe(false);
  expect(allowed('https://hooks.example.com:8443/')).toBe(false);
  expect(allowed('http://hooks.example.com/')).toBe(false);
  expect(allowed('http://127.0.0.1:3510/hooks')).toBe(true);
  expect(allowed('http://127.0.0.1:3510/hooks/a')).toBe(true);
  expect(allowed('http://127.0.0.1:35100/hooks')).toBe(false);
  expect(allowed('http://127.0.0.1:3510/hooksevil')).toBe(false);
  expect(allowed('http://127.0.0.1:3510/')).toBe(false);
  expect(allowed('https://api.example.com/v1/cb')).toBe(true);
  expect(allowed('https://api.example.com/v1/cbx')).toBe(false);
  expect(allowed('https://api.example.com/v1/%63b')).toBe(false); // an encoded letter is another segment, not the same one
});

test('non-public addresses are forbidden unless their network was opened; IPv4-mapped IPv6 is checked as IPv4', () => {
  const none = networkList([]);
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '224.0.0.1'])
    expect(forbiddenAddress(a, none), a).toBe(true);
  for (const a of ['93.184.216.34', '2606:2800:220:1::1', '::ffff:93.184.216.34']) expect(forbiddenAddress(a, none), a).toBe(false);
  const opened = networkList(['10.0.0.0/8', '127.0.0.2']);
  expect(forbiddenAddress('10.9.9.9', opened)).toBe(false);
  expect(forbiddenAddress('127.0.0.2', opened)).toBe(false);
  expect(forbiddenAddress('127.0.0.1', opened)).toBe(true);
  expect(forbiddenAddress('169.254.169.254', opened)).toBe(true);
});

test('networks parse as CIDRs or single addresses', () => {
  expect(parseNetwork('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, type: 'ipv4' });
  expect(parseNetwork('::1')).toEqual({ address: '::1', prefix: 128, type: 'ipv6' });
  expect(parseNetwork('172.16.0.0/12')).toEqual({ address: '172.16.0.0', prefix: 12, type: 'ipv4' });
  expect(parseNetwork(' 10.0.0.0/8 ')).toEqual({ address: '10.0.0.0', prefix: 8, type: 'ipv4' });
  expect(parseNetwork('127.0.0.2')).toEqual({ address: '127.0.0.2', prefix: 32, type: 'ipv4' });
  expect(parseNetwork('fd00::/8')).toEqual({ address: 'fd00::', prefix: 8, type: 'ipv6' });
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'x/8', '::1/129', '10.0.0.0/-1', '10.0.0.0/8a', '10.0.0.0/ 8', '10.0.0.0/+8', '10.0.0.0/8.0', '10.0.0.0/', '10.0.0.0/0x8'])
    expect(parseNetwork(bad), bad).toBeUndefined();
});

test('the scheme is part of the match: plain http on the https port is not the https entry', () => {
  expect(allowed('http://hooks.example.com:443/x')).toBe(false);
});

test('the system resolver gives an address literal back as itself, IPv6 as family 6', async () => {
  expect(await systemResolver('::1')).toEqual([{ address: '::1', family: 6 }]);
  expect(await systemResolver('127.0.0.1')).toEqual([{ address: '127.0.0.1', family: 4 }]);
});

test('an http entry means port 80: it admits :80 but not the https port', () => {
  const plain = [parseAllowEntry('http://plain.example.com')!];
  expect(plain[0]!.port).toBe('80');
  expect(allowedBy(new URL('http://plain.example.com:80/x'), plain)).toBe(true);
  expect(allowedBy(new URL('http://plain.example.com:443/x'), plain)).toBe(false);
});

test('an IPv4 address mapped into IPv6 is judged as that IPv4 address, in any spelling, against both lists', () => {
  const none = networkList([]);
  for (const a of ['::FFFF:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '0:0:0:0:0:ffff:10.0.0.1']) expect(forbiddenAddress(a, none), a).toBe(true);
  const opened = networkList(['127.0.0.2/32']);
  expect(forbiddenAddress('::ffff:127.0.0.2', opened)).toBe(false);
  expect(forbiddenAddress('::ffff:127.0.0.1', opened)).toBe(true);
});

test('malformed networks in the list open nothing; the well-formed ones around them still open theirs', () => {
  const list = networkList(['not-a-network', '10.0.0.0/8', '192.168.0.0/33']);
  expect(forbiddenAddress('10.1.1.1', list)).toBe(false);
  expect(forbiddenAddress('192.168.1.1', list)).toBe(true);
});

/** A DNS server under the test's control: host → addresses (a missing host fails like ENOTFOUND). */
function scriptedDns(answers: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    const a = answers[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { calls, resolve };
}

const policyWith = (dns: ReturnType<typeof scriptedDns>, privateNetworks: string[] = []): DestinationPolicy => ({
  allow: ['https://hooks.example.com', 'http://127.0.0.2:3510/hooks', 'http://[::1]:3510/', 'http://10.0.0.7/'].map((e) => parseAllowEntry(e)!),
  privateNetworks: networkList(privateNetworks),
  resolve: dns.resolve,
});

async function refusal(raw: string, policy: DestinationPolicy): Promise<AirouteError> {
  const err = await checkDestination(raw, policy).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AirouteError)) throw new Error(`${raw} was not refused with an AirouteError: ${String(err)}`);
  expect(err).toMatchObject({ code: 'callback_not_allowed', status: 400, details: { param: 'Airoute-Callback-Url' } });
  return err;
}

test('each refusal says why: not a URL, another scheme, credentials, no matching entry, no DNS answer, a private address', async () => {
  const dns = scriptedDns({ 'hooks.example.com': ['203.0.113.5'] });
  const policy = policyWith(dns);
  expect((await refusal('hooks.example.com/cb', policy)).message).toBe('callback URL hooks.example.com/cb is not allowed: not a URL');
  expect((await refusal('ftp://hooks.example.com/cb', policy)).message).toContain('only http(s) is allowed');
  // The credentials would pass the allow-list (it compares scheme, host, port and path only).
  expect((await refusal('https://user@hooks.example.com/cb', policy)).message).toContain('credentials in the URL are not allowed');
  expect((await refusal('https://:secret@hooks.example.com/cb', policy)).message).toContain('credentials in the URL are not allowed');
  expect((await refusal('https://other.example.com/cb', policy)).message).toContain('it matches no entry of webhooks.allow');
  expect(dns.calls).toEqual([]); // nothing refused so far was looked up
  expect((await refusal('http://10.0.0.7/x', policy)).message).toBe(
    'callback URL http://10.0.0.7/x is not allowed: 10.0.0.7 resolves to 10.0.0.7, a private, loopback or link-local address; list its network in webhooks.privateNetworks to allow it',
  );
  // A long URL is quoted up to its first 300 characters.
  const long = `https://hooks.example.com/${'x'.repeat(400)}`;
  expect((await refusal(long, policyWith(scriptedDns({})))).message).toBe(`callback URL ${long.slice(0, 300)} is not allowed: its host hooks.example.com does not resolve`);
});

test('a name with no address at all is refused as unresolvable, not allowed through', async () => {
  const err = await refusal('https://hooks.example.com/cb', policyWith(scriptedDns({ 'hooks.example.com': [] })));
  expect(err.message).toContain('its host hooks.example.com does not resolve');
});

test('a name that resolves to a public address passes; the connection goes to the first address; an address literal is not looked up', async () => {
  const dns = scriptedDns({ 'hooks.example.com': ['203.0.113.5', '2001:db8::5'] });
  const ok = await checkDestination('https://HOOKS.example.com./cb', policyWith(dns));
  expect(ok.url.href).toBe('https://hooks.example.com./cb');
  expect(ok.address).toEqual({ address: '203.0.113.5', family: 4 });
  expect(dns.calls).toEqual(['hooks.example.com']);
  expect((await checkDestination('http://[::1]:3510/x', policyWith(dns, ['::1/128']))).address).toEqual({ address: '::1', family: 6 });
  expect((await checkDestination('http://127.0.0.2:3510/hooks/a', policyWith(dns, ['127.0.0.2']))).address).toEqual({ address: '127.0.0.2', family: 4 });
  expect(dns.calls).toEqual(['hooks.example.com']);
});

test('the system resolver answers every address of a name, each with its family', async () => {
  const answers = await systemResolver('localhost');
  expect(answers.length).toBeGreaterThan(0);
  for (const a of answers) expect([a.address, a.family]).toEqual([a.address, a.address.includes(':') ? 6 : 4]);
  expect(answers.map((a) => a.address)).toContain('127.0.0.1');
});

test('a pinned lookup connects a made-up host name to the checked address, whether the socket asks for one address or all', async () => {
  const server = createServer((s) => s.end('hello'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const autoSelectFamily of [true, false]) {
      const got = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: 'receiver.invalid', port, autoSelectFamily, lookup: pinnedLookup({ address: '127.0.0.1', family: 4 }) });
        let text = '';
        s.on('data', (d) => (text += String(d)));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      expect(got, `autoSelectFamily ${autoSelectFamily}`).toBe('hello');
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
});
