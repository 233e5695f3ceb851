// CPU figures read from /proc, shared by bench/run.mjs and bench/store.mjs.
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (user + system) a process has used so far, in ms: steadier than wall time for A/B. */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return null;
  }
}

/**
 * CPU time used so far by every process with this command name (`postgres`, `redis-server`): the
 * database server's share of a scenario, which the Herald or BullMQ processes' own CPU leaves out.
 */
export function serverCpuMs(comm) {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) continue;
      total += cpuMs(pid) ?? 0;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

/** Busy and total CPU time of the whole machine so far (/proc/stat), to tell a saturated run from a waiting one. */
export function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total }; // idle and iowait are not busy
}
