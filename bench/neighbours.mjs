// The noisy-neighbours scenario's bad receivers, in their own process: `hang` TCP servers on
// 127.0.0.1 that accept and read requests and never answer (each its own port, so each endpoint is
// its own origin with its own connection pool, as distinct receivers on the internet would be),
// and `slow` HTTP servers that answer 200 after 2 s. Reports the open connections' peak over IPC.
import http from 'node:http';
import net from 'node:net';

const [hang, slow] = process.argv.slice(2).map(Number);
let open = 0;
let peak = 0;
const sockets = new Set();
const track = (s) => {
  sockets.add(s);
  peak = Math.max(peak, ++open);
  s.on('error', () => {});
  s.once('close', () => {
    open--;
    sockets.delete(s);
  });
};
const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

const hangPorts = [];
for (let i = 0; i < hang; i++) {
  const server = net.createServer((s) => {
    track(s);
    s.resume(); // read the request, never answer
  });
  hangPorts.push(await listen(server));
}
const slowPorts = [];
for (let i = 0; i < slow; i++) {
  const server = http.createServer((req, res) => {
    req.resume();
    const t = setTimeout(() => res.writeHead(200).end('ok'), 2000);
    res.once('close', () => clearTimeout(t));
  });
  server.on('connection', track);
  server.keepAliveTimeout = 60_000;
  slowPorts.push(await listen(server));
}
process.on('message', (m) => {
  if (m.type === 'stats') process.send({ type: 'stats', open, peak });
  else if (m.type === 'stop') {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
process.send({ type: 'ready', hang: hangPorts, slow: slowPorts });
