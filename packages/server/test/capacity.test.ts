import { describe, expect, it } from 'vitest';
import { CapacityBook, nextInFlightLimit } from '../src/core/capacity.js';
import { ManualClock } from '../src/core/clock.js';
import { HEALTHY } from '../src/core/endpoint-health.js';
import { Lane } from '../src/delivery/lane.js';
import type { DispatchEndpoint } from '../src/store/index.js';

const none = { active: [], waiting: [] };

describe('capacity book', () => {
  it('a tenant alone may use every active slot; two tenants wanting them get half each', () => {
    const book = new CapacityBook({ active: 8, waiting: 100, slowMs: 1000 });
    const alone = book.shares({ active: ['a'], waiting: [] });
    for (let i = 0; i < 8; i++) {
      expect(book.canStart('a', 'active', alone)).toBe(true);
      book.start(`a${i}`, 'a', 'active', 0);
    }
    expect(book.canStart('a', 'active', alone)).toBe(false);
    // Two finish; b now wants slots too: a, above its half, gets none of them, b gets both.
    book.finish('a0');
    book.finish('a1');
    const both = book.shares({ active: ['a', 'b'], waiting: [] });
    expect(both.active).toBe(4);
    expect(book.canStart('a', 'active', both)).toBe(false);
    expect(book.canStart('b', 'active', both)).toBe(true);
  });

  it('the waiting slots: three quarters in equal shares, the last quarter kept for tenants with none yet', () => {
    const book = new CapacityBook({ active: 8, waiting: 100, slowMs: 1000 });
    let shares = book.shares({ active: [], waiting: ['noisy'] });
    let n = 0;
    while (book.canStart('noisy', 'waiting', shares)) book.start(`n${n++}`, 'noisy', 'waiting', 0);
    expect(n).toBe(75);
    // Newcomers each start one at once, from the headroom, however full the rest is.
    shares = book.shares({ active: [], waiting: ['noisy', 'a', 'b'] });
    expect(shares.waiting).toBe(25);
    for (const t of ['a', 'b']) {
      expect(book.canStart(t, 'waiting', shares)).toBe(true);
      book.start(`${t}0`, t, 'waiting', 0);
      expect(book.canStart(t, 'waiting', shares)).toBe(false);
    }
    // As the noisy tenant's attempts end, the others fill their shares; it gets none back until below its own.
    for (let i = 0; i < 30; i++) book.finish(`n${i}`);
    expect(book.canStart('noisy', 'waiting', shares)).toBe(false);
    let m = 0;
    while (book.canStart('a', 'waiting', shares)) book.start(`a${++m}`, 'a', 'waiting', 0);
    expect(book.count('waiting', 'a')).toBe(25);
    expect(book.count('waiting')).toBe(45 + 25 + 1);
  });

  it('an attempt open slowMs leaves its active slot for a waiting one; the total stays bounded', () => {
    const clock = new ManualClock(0);
    const book = new CapacityBook({ active: 4, waiting: 2, slowMs: 1000 });
    const shares = book.shares(none);
    for (let i = 0; i < 4; i++) book.start(`h${i}`, 'a', 'active', clock.now() + i);
    expect(book.free('active')).toBe(0);
    expect(book.nextAgeAt()).toBe(1000);
    clock.advance(1000);
    expect(book.age(clock.now())).toBe(1);
    clock.advance(10);
    expect(book.age(clock.now())).toBe(3);
    expect(book.count('active')).toBe(0);
    expect(book.count('waiting')).toBe(4);
    // Four waiting in a budget of two: the total (6) allows two more active, not four.
    expect(book.free('active')).toBe(2);
    expect(book.canStart('b', 'active', shares)).toBe(true);
    expect(book.canStart('b', 'waiting', shares)).toBe(false);
    book.finish('h0');
    book.finish('h1');
    book.finish('h2');
    expect(book.free('active')).toBe(4);
    expect(book.free('waiting')).toBe(1);
  });

  it('in-flight limit: a timeout halves it towards one, an answer earns one back, within the cap', () => {
    let limit = 10;
    for (const expected of [5, 2, 1, 1]) expect((limit = nextInFlightLimit(limit, 10, 'timeout'))).toBe(expected);
    for (let i = 0; i < 20; i++) limit = nextInFlightLimit(limit, 10, 'answered');
    expect(limit).toBe(10);
    expect(nextInFlightLimit(7, 10, 'other')).toBe(7);
    expect(nextInFlightLimit(12, 4, 'other')).toBe(4);
  });
});

describe('lane standing', () => {
  const endpoint = { id: 'ep_1', tenantId: 't', fifo: false, maxInFlight: null, rateLimit: null, health: HEALTHY } as unknown as DispatchEndpoint;

  it('new: the waiting slots; answered quickly: active; hanging or slow: waiting, its limit halved towards one', () => {
    const clock = new ManualClock(0);
    const lane = new Lane(endpoint, 10, clock.now(), 1000);
    expect(lane.budget(clock.now())).toBe('waiting');
    expect(lane.allowed).toBe(10);
    lane.started('d1', clock.now());
    clock.advance(20);
    lane.finished('d1', 20, clock.now(), 'answered');
    expect(lane.budget(clock.now())).toBe('active');
    expect(lane.allowed).toBe(10);
    // It starts to hang: once an attempt has been open a second, its next ones wait.
    lane.started('d2', clock.now());
    clock.advance(999);
    expect(lane.budget(clock.now())).toBe('active');
    clock.advance(1);
    expect(lane.budget(clock.now())).toBe('waiting');
    clock.advance(29_000);
    lane.finished('d2', 30_000, clock.now(), 'timeout');
    expect(lane.budget(clock.now())).toBe('waiting');
    expect(lane.allowed).toBe(5);
    for (let i = 0; i < 3; i++) lane.finished('x', 30_000, clock.now(), 'timeout');
    expect(lane.allowed).toBe(1);
    // An answer after 2 s earns a slot back but not the active budget.
    lane.started('d3', clock.now());
    clock.advance(2000);
    lane.finished('d3', 2000, clock.now(), 'answered');
    expect(lane.allowed).toBe(2);
    expect(lane.budget(clock.now())).toBe('waiting');
  });
});
