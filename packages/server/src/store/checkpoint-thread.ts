// Entry point of the SQLite checkpoint thread (see startCheckpointer in connect.ts).
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const REPORT_EVERY_MS = 60_000;
const db = new SqliteDatabase(file);
// Waiting for the checkpoint lock is fine here: nothing else runs on this thread.
db.pragma('busy_timeout = 1000');
let reportedAt = -Infinity;
const timer = setInterval(() => {
  try {
    // PASSIVE never blocks the writer or readers; it copies what it can and is run again soon.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    // Busy or briefly locked: the next round catches up. Anything else (I/O, a read-only or
    // damaged file) goes to the parent's log, at most once a minute.
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return;
    const now = Date.now();
    if (now - reportedAt < REPORT_EVERY_MS) return;
    reportedAt = now;
    parentPort!.postMessage({ checkpointError: `${code ? `${code}: ` : ''}${(err as Error).message}` });
  }
}, intervalMs);

parentPort!.on('message', (msg) => {
  if (msg !== 'close') return;
  clearInterval(timer);
  try {
    db.close();
  } finally {
    parentPort!.close();
  }
});
