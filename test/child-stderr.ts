// What a child process printed on stderr, minus what Node's own coverage writer printed into it.
//
// Under `npm run coverage` every process and thread runs with NODE_V8_COVERAGE set, and Node writes
// each thread's profile as the thread exits. A worker stopped while its profile is being written
// (process.exit() in a worker, terminate(), a process that exits with threads still running)
// makes Node print "Failed to stringify coverage profile result" on stderr. That line is Node's,
// not the library's, and it never appears without NODE_V8_COVERAGE: tests that check "nothing was
// printed" check what is left after it is removed.

const COVERAGE_WRITER = /^Failed to stringify coverage profile result\r?\n?/gm;

export function ownStderr(stderr: string): string {
  return process.env.NODE_V8_COVERAGE === undefined ? stderr : stderr.replace(COVERAGE_WRITER, '');
}
