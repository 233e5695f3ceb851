// Entry point of a delivery thread (see ThreadedTransport): an HttpTransport of its own, fed
// batches of requests by the worker and answering in batches.
import { parentPort, workerData } from 'node:worker_threads';
import { HttpTransport, type OutboundResponse, type TransportOptions } from './transport.js';
import type { ThreadReply, ThreadRequest } from './threaded-transport.js';

const port = parentPort!;
const transport = new HttpTransport(workerData as TransportOptions);
let replies: ThreadReply[] = [];

// Answers that arrive while sockets are read in one turn of the event loop go back together.
const reply = (id: number, res: OutboundResponse): void => {
  if (replies.length === 0) setImmediate(flush);
  replies.push([id, res]);
};
function flush(): void {
  port.postMessage(replies);
  replies = [];
}

port.on('message', (msg: ThreadRequest[] | 'close') => {
  if (msg === 'close') {
    void transport.close().finally(() => port.close());
    return;
  }
  for (const [id, req] of msg) void transport.send(req).then((res) => reply(id, res));
});
