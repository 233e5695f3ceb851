// The BullMQ baseline's worker process: what a team would write by hand instead of Herald.
// Pulls jobs from Redis with concurrency 64 and sends each as a signed POST with undici.
import { Worker } from 'bullmq';
import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';

const [queueName, base, secret] = process.argv.slice(2);
const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
const agent = new Agent({ connections: 128 });
const worker = new Worker(queueName, async (job) => {
  const { id, path, body } = job.data;
  const ts = Math.floor(Date.now() / 1000);
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
  const res = await request(base + path, {
    method: 'POST', dispatcher: agent, body,
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature },
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`status ${res.statusCode}`);
}, { connection: { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null }, concurrency: 64 });
worker.on('ready', () => process.send?.({ type: 'ready' }));
process.on('message', async (m) => {
  if (m.type === 'stop') {
    await worker.close();
    await agent.close();
    process.exit(0);
  }
});
