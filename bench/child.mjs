/**
 * One measurement in a fresh process: `node bench/child.mjs '<json>'` with
 * { scenario, case, subject, params }. Imports the scenario module, runs its
 * measure(), and prints one line `@@RESULT <json>` (or `@@ERROR <message>`)
 * for the parent. Nothing else in this process has run before, so no other
 * library's JIT state, threads or heap can affect the number.
 */
import { inspect } from 'node:util';

const spec = JSON.parse(process.argv[2]);
const MARK = '@@RESULT ';

try {
  const { default: scenario } = await import(`./scenarios/${spec.scenario}.mjs`);
  const result = await scenario.measure(spec.case, spec.subject, spec.params);
  process.stdout.write(`${MARK}${JSON.stringify(result)}\n`);
  // The measurement is over: exit without tearing the pool down. Teardown is
  // not measured, and some peers' destroy() is slow or (poolifier 5.3.2, now
  // and then) never settles. process.exit ends every worker thread.
  process.exit(0);
} catch (error) {
  // inspect, not String: some pools reject with a plain object, which String() makes "[object Object]".
  const message = error?.stack ? error.stack : inspect(error);
  process.stdout.write(`@@ERROR ${JSON.stringify(message)}\n`);
  process.exit(1);
}
