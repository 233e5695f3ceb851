// The benchmark's receiver: a minimal Node http server that checks every Standard Webhooks
// signature, counts each delivery (endpoint path + webhook-id) and records publish→receive latency.
// Runs as its own process; the benchmark talks to it over IPC.
import http from 'node:http';
import { createHmac } from 'node:crypto';
import hdr from 'hdr-histogram-js';

const keys = new Map(); // path → HMAC key
let seen = new Map(); // `${path} ${id}` → times received
let received = 0;
let badSignatures = 0;
let firstAt = 0;
let lastAt = 0;
let histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

const now = () => performance.timeOrigin + performance.now();

function verify(key, id, ts, body, header) {
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return String(header).split(' ').some((s) => s.slice(3) === expected);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const key = keys.get(req.url);
    const id = req.headers['webhook-id'];
    if (!key || !verify(key, id, req.headers['webhook-timestamp'], body, req.headers['webhook-signature'])) {
      badSignatures++;
      res.writeHead(401).end();
      return;
    }
    const t = now();
    const k = `${req.url} ${id}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
    received++;
    if (!firstAt) firstAt = t;
    lastAt = t;
    const sentAt = JSON.parse(body).data.sent_at;
    if (typeof sentAt === 'number') histogram.recordValue(Math.max(1, Math.round((t - sentAt) * 1000)));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (m) => {
  if (m.type === 'keys') {
    for (const [path, secret] of Object.entries(m.keys)) keys.set(path, Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
    process.send({ type: 'ok' });
  } else if (m.type === 'reset') {
    keys.clear();
    seen = new Map();
    received = badSignatures = firstAt = lastAt = 0;
    histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
    process.send({ type: 'ok' });
  } else if (m.type === 'stats') {
    let duplicates = 0;
    for (const n of seen.values()) if (n > 1) duplicates += n - 1;
    const ms = (q) => histogram.getValueAtPercentile(q) / 1000;
    process.send({ type: 'stats', received, unique: seen.size, duplicates, badSignatures, firstAt, lastAt, p50: ms(50), p90: ms(90), p99: ms(99), latencyCount: histogram.totalCount });
  } else if (m.type === 'stop') {
    server.close();
    process.exit(0);
  }
});

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
