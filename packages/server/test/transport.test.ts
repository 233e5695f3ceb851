import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ThreadedTransport } from '../src/delivery/threaded-transport.js';
import { BODY_CUT_OFF, HttpTransport, type Transport } from '../src/delivery/transport.js';
import { closedAfterEach } from './helpers.js';

const local = { addressPolicy: { allowPrivateNetworks: true, allowCidrs: [] } };

describe('delivery threads', () => {
  const open = closedAfterEach();

  it('sends concurrent attempts from two threads and answers each with its own result', async () => {
    const receiver = await open.receiver();
    const transport = new ThreadedTransport(local, 2);
    open.open.push(transport);
    // Every third request is throttled, the others accepted: each answer must find its request.
    for (let i = 0; i < 300; i++) receiver.replies.push(i % 3 === 0 ? { status: 429, headers: { 'retry-after': '7' }, body: `slow ${i}` } : { status: 200, body: `ok ${i}` });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) =>
      transport.send({ url: `${receiver.url}/hook/${i}`, headers: { 'content-type': 'application/json', 'x-n': String(i) }, body: JSON.stringify({ i }), timeoutMs: 5_000 })));
    expect(receiver.requests).toHaveLength(300);
    // The receiver answered in arrival order; map each request's number to the reply it got.
    const replyFor = new Map(receiver.requests.map((r, k) => [Number(r.headers['x-n']), k]));
    results.forEach((res, i) => {
      const k = replyFor.get(i)!;
      expect(JSON.parse(receiver.requests[k]!.body)).toEqual({ i });
      if (k % 3 === 0) expect(res).toMatchObject({ statusCode: 429, retryAfter: '7', errorKind: 'http', body: `slow ${k}` });
      else expect(res).toMatchObject({ statusCode: 200, retryAfter: null, errorKind: null, body: `ok ${k}` });
    });
  });

  it('applies the address policy and the timeout inside the thread', async () => {
    const receiver = await open.receiver('hang');
    const guarded = new ThreadedTransport({ addressPolicy: { allowPrivateNetworks: false, allowCidrs: [] } }, 1);
    const permissive = new ThreadedTransport(local, 1);
    open.open.push(guarded, permissive);
    const blocked = await guarded.send({ url: `${receiver.url}/x`, headers: {}, body: '{}', timeoutMs: 1_000 });
    expect(blocked).toMatchObject({ statusCode: null, errorKind: 'blocked' });
    const hung = await permissive.send({ url: `${receiver.url}/x`, headers: {}, body: '{}', timeoutMs: 300 });
    expect(hung).toMatchObject({ statusCode: null, errorKind: 'timeout' });
    expect(hung.durationMs).toBeGreaterThanOrEqual(250);
  });

  it('a thread that dies is logged and replaced: the next attempt goes out', async () => {
    const receiver = await open.receiver();
    const lines: { msg: string; err?: { message: string } }[] = [];
    const transport = new ThreadedTransport(local, 1, pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }));
    open.open.push(transport);
    const send = () => transport.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 5_000 });
    expect((await send()).statusCode).toBe(200);
    const thread = (transport as unknown as { threads: { worker: Worker }[] }).threads[0]!.worker;
    const exited = new Promise((resolve) => thread.once('exit', resolve));
    thread.postMessage(42); // not a batch: the thread's handler throws, uncaught, and the thread dies
    await exited;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: expect.stringMatching(/^delivery thread died/), err: { message: expect.stringMatching(/iterable/) } });
    expect((await send()).statusCode).toBe(200);
    expect(receiver.requests).toHaveLength(2);
  });

  it('fails attempts cleanly once closed', async () => {
    const receiver = await open.receiver();
    const transport = new ThreadedTransport(local, 1);
    expect((await transport.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 1_000 })).statusCode).toBe(200);
    await transport.close();
    const res = await transport.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 1_000 });
    expect(res).toMatchObject({ statusCode: null, errorKind: 'connection', errorMessage: 'the transport is closed' });
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('HTTP transport', () => {
  const open = closedAfterEach();

  it('keeps the first 4 KiB of a long answer, and the next attempt still goes out', async () => {
    const receiver = await open.receiver();
    const long = 'abcdefghij'.repeat(50_000); // 500 KB
    receiver.replies.push({ status: 500, body: long });
    const transport = new HttpTransport(local);
    open.open.push(transport);
    const first = await transport.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 5_000 });
    expect(first).toMatchObject({ statusCode: 500, errorKind: 'http' });
    expect(first.body).toBe(long.slice(0, 4096));
    const second = await transport.send({ url: receiver.url, headers: {}, body: '{}', timeoutMs: 5_000 });
    expect(second).toMatchObject({ statusCode: 200, body: 'ok', errorKind: null });
  });

  it('a header value undici refuses to send is a failed attempt, not an exception', async () => {
    const receiver = await open.receiver();
    const transport = new HttpTransport(local);
    open.open.push(transport);
    const res = await transport.send({ url: receiver.url, headers: { 'x-bad': 'a\r\nb' }, body: '{}', timeoutMs: 5_000 });
    expect(res.statusCode).toBeNull();
    expect(res.errorKind).toBe('connection');
    expect(res.errorMessage).toMatch(/header/i);
    expect(receiver.requests).toHaveLength(0);
  });
});

/** A receiver that answers `200` at once, then sends its body one byte every 50 ms (for at most a minute). */
async function tricklingReceiver(): Promise<{ url: string; close(): Promise<void> }> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    let sent = 0;
    const timer = setInterval(() => {
      if (++sent > 1200 || res.destroyed) {
        clearInterval(timer);
        timers.delete(timer);
        res.end();
      } else res.write('z');
    }, 50);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('one deadline for the whole attempt', () => {
  const open = closedAfterEach();

  for (const [name, make] of [['in this thread', () => new HttpTransport(local)], ['in a delivery thread', () => new ThreadedTransport(local, 1)]] as const) {
    it(`a body trickled a byte at a time ends at timeout_ms, the status counting and the body cut off (${name})`, async () => {
      const trickle = await tricklingReceiver();
      open.open.push(trickle);
      const transport: Transport = make();
      open.open.push(transport);
      // A thread's start-up is not the attempt's: warm it up first.
      const warm = await open.receiver();
      expect((await transport.send({ url: warm.url, headers: {}, body: '{}', timeoutMs: 5_000 })).statusCode).toBe(200);
      const started = Date.now();
      const res = await transport.send({ url: `${trickle.url}/hook`, headers: {}, body: '{}', timeoutMs: 1_000 });
      const took = Date.now() - started;
      // undici's body timer restarted on each byte: this took the receiver's whole minute.
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(1_600);
      expect(res).toMatchObject({ statusCode: 200, errorKind: null });
      expect(res.errorMessage).toContain(BODY_CUT_OFF);
      expect(res.body).toMatch(/^z{5,25}$/);
    });
  }

  it('time spent waiting for a pooled connection counts towards the deadline', async () => {
    const hang = await open.receiver('hang');
    const transport = new HttpTransport({ ...local, connectionsPerOrigin: 1 });
    open.open.push(transport);
    const started = Date.now();
    // The first holds the origin's only connection; the second waits for it and must still end on time.
    const [first, second] = await Promise.all([
      transport.send({ url: `${hang.url}/a`, headers: {}, body: '{}', timeoutMs: 2_000 }),
      transport.send({ url: `${hang.url}/b`, headers: {}, body: '{}', timeoutMs: 500 }),
    ]);
    expect(second).toMatchObject({ statusCode: null, errorKind: 'timeout' });
    expect(second.durationMs).toBeLessThan(1_000);
    expect(first).toMatchObject({ statusCode: null, errorKind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_600);
  });
});
