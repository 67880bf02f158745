/**
 * CPU time of the main thread alone (process.cpuUsage() counts every thread,
 * the pool's included). In order of precision:
 *
 *   process.threadCpuUsage()           Node ≥ 23.9: the calling thread's user + system time, µs
 *   /proc/self/task/<pid>/schedstat    Linux: its first field is the thread's time on a CPU, in ns
 *   /proc/self/task/<pid>/stat         Linux: utime + stime (fields 14, 15), in clock ticks
 *                                      (`getconf CLK_TCK`, 100 here: 10 ms a tick)
 *
 * The main thread's tid is the process id. Elsewhere (macOS, Windows on
 * Node < 23.9) there is no per-thread clock: source is null, µs NaN.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond;

/** Clock ticks per second of /proc's times (sysconf(_SC_CLK_TCK)); 100 when getconf is missing. */
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

const TASK = `/proc/self/task/${process.pid}`;

/** utime + stime of the main thread in µs, from /proc's stat (tick resolution), or NaN. */
export function statCpuMicros() {
  try {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const text = readFileSync(`${TASK}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks();
  } catch {
    return NaN;
  }
}

function schedstatMicros() {
  try {
    return Number(readFileSync(`${TASK}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  } catch {
    return NaN;
  }
}

/** { source, read() → µs of CPU the main thread has used so far } for the most precise clock this platform has. */
export function mainThreadClock() {
  clockTicks(); // getconf runs now, not inside a measurement
  if (typeof process.threadCpuUsage === 'function') {
    return {
      source: 'process.threadCpuUsage()',
      read: () => {
        const u = process.threadCpuUsage();
        return u.user + u.system;
      },
    };
  }
  if (schedstatMicros() > 0) return { source: '/proc schedstat', read: schedstatMicros };
  if (Number.isFinite(statCpuMicros())) return { source: '/proc stat (utime + stime)', read: statCpuMicros };
  return { source: null, read: () => NaN };
}
