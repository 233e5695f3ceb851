// Entry point of the SQLite checkpoint thread (see startCheckpointer in connect.ts).
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new SqliteDatabase(file);
// Waiting for the checkpoint lock is fine here: nothing else runs on this thread.
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    // PASSIVE never blocks the writer or readers; it copies what it can and is run again soon.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or briefly locked: the next round catches up.
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
