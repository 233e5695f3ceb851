import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { threadEntry } from '../thread-entry.js';
import type { OutboundRequest, OutboundResponse, Transport, TransportOptions } from './transport.js';

/** Messages between the worker and a delivery thread: batches of [request id, payload]. */
export type ThreadRequest = [number, OutboundRequest];
export type ThreadReply = [number, OutboundResponse];

/** Options a thread can be given: data only (a custom resolver or dial hook cannot cross threads). */
export type ThreadTransportOptions = Omit<TransportOptions, 'resolver' | 'onDial'>;

interface DeliveryThread {
  worker: Worker;
  pending: Map<number, (res: OutboundResponse) => void>;
  outbox: ThreadRequest[];
}

/**
 * Sends attempts from `threads` worker threads, each with its own HttpTransport (keep-alive pools,
 * SSRF checks, timeouts). HTTP parsing and socket work were about a third of the delivery
 * process's CPU; here they run beside the event loop that claims and records deliveries, so a
 * second core is used. Requests go in batches (everything a dispatch round starts is one message)
 * to the thread with the fewest in flight; a thread that dies is logged, fails its attempts as
 * connection errors, which are retried like any other, and is replaced by the next send.
 */
export class ThreadedTransport implements Transport {
  private readonly threads: (DeliveryThread | null)[];
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: ThreadTransportOptions, threads: number, private readonly logger?: Pick<Logger, 'error'>) {
    this.threads = Array.from({ length: Math.max(1, threads) }, () => null);
  }

  send(req: OutboundRequest): Promise<OutboundResponse> {
    if (this.closed) return Promise.resolve(failed('the transport is closed', 0));
    const thread = this.leastBusy();
    const id = this.nextId++;
    if (thread.outbox.length === 0) queueMicrotask(() => this.post(thread));
    thread.outbox.push([id, req]);
    return new Promise((resolve) => thread.pending.set(id, resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map(async (t, i) => {
      if (!t) return;
      this.threads[i] = null;
      const exited = new Promise((resolve) => t.worker.once('exit', resolve));
      t.worker.postMessage('close');
      const timer = setTimeout(() => void t.worker.terminate(), 5_000);
      await exited;
      clearTimeout(timer);
    }));
  }

  private leastBusy(): DeliveryThread {
    let best: DeliveryThread | null = null;
    for (let i = 0; i < this.threads.length; i++) {
      const t = this.threads[i] ?? (this.threads[i] = this.spawn(i));
      if (!best || t.pending.size < best.pending.size) best = t;
    }
    return best!;
  }

  private post(thread: DeliveryThread): void {
    const batch = thread.outbox;
    thread.outbox = [];
    thread.worker.postMessage(batch);
  }

  private spawn(slot: number): DeliveryThread {
    // Its garbage is short-lived (requests, responses): a small young generation keeps the
    // process's memory down at no measurable cost in throughput.
    const worker = new Worker(threadEntry(new URL('./transport-thread.js', import.meta.url)), {
      workerData: this.opts,
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    const thread: DeliveryThread = { worker, pending: new Map(), outbox: [] };
    worker.on('message', (replies: ThreadReply[]) => {
      for (const [id, res] of replies) {
        const resolve = thread.pending.get(id);
        thread.pending.delete(id);
        resolve?.(res);
      }
    });
    let crash: Error | undefined;
    let dropped = 0;
    const lost = (why: string) => {
      if (this.threads[slot] === thread) this.threads[slot] = null;
      for (const resolve of thread.pending.values()) resolve(failed(why, 0));
      dropped += thread.pending.size;
      thread.pending.clear();
    };
    worker.on('error', (err) => {
      crash = err;
      lost(`delivery thread failed: ${err.message}`);
    });
    worker.on('exit', (code) => {
      // close() ends threads on purpose; anything else is a death worth a line ('error' comes first, if any).
      lost(`delivery thread exited (${code})`);
      if (!this.closed) this.logger?.error({ err: crash, exitCode: code, thread: slot, attemptsFailed: dropped }, 'delivery thread died; its attempts fail as connection errors (retried), and a new thread takes over');
    });
    return thread;
  }
}

function failed(message: string, durationMs: number): OutboundResponse {
  return { statusCode: null, body: null, retryAfter: null, errorKind: 'connection', errorMessage: message, durationMs };
}
