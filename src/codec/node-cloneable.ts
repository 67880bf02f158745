/**
 * Node's own cloneable objects — Blob, File, BlockList, SocketAddress, a histogram… — are cloned by
 * postMessage through a method Node keeps under a symbol ('messaging_clone_symbol'). V8's
 * serializer, which the shared heap's structured path uses, knows nothing of it: on Node 20 it
 * refuses such an object (a host object), and the value goes by MessagePort as it should; from
 * Node 22 on a Blob is a plain JS object to it, and it writes `{}` without complaint. Where that
 * can happen, a value is searched for such objects before it is serialized, and one found sends
 * the value by MessagePort, where postMessage clones it properly.
 */
import { serialize } from 'node:v8';

const CLONE: symbol | undefined =
  typeof Blob === 'function' ? Object.getOwnPropertySymbols(Blob.prototype).find((s) => s.description === 'messaging_clone_symbol') : undefined;

/** Does V8's serializer take a Node cloneable silently here (Node 22+)? Probed once. */
const silent: boolean = (() => {
  if (CLONE === undefined) return false;
  try {
    serialize(new Blob([]));
    return true;
  } catch {
    return false; // refused: the fallback happens by itself
  }
})();

/** Whether `value` holds, anywhere V8's serializer would look, an object Node clones its own way. */
export function holdsNodeCloneable(value: unknown): boolean {
  if (!silent || value === null || typeof value !== 'object') return false;
  const clone = CLONE!;
  const seen = new Set<object>();
  const stack: object[] = [value];
  while (stack.length > 0) {
    const object = stack.pop()!;
    if (seen.has(object)) continue;
    seen.add(object);
    if (clone in object) return true;
    // What V8 writes as bytes or as itself holds nothing more to search.
    if (
      ArrayBuffer.isView(object) ||
      object instanceof ArrayBuffer ||
      object instanceof SharedArrayBuffer ||
      object instanceof Date ||
      object instanceof RegExp
    )
      continue;
    if (object instanceof Map) {
      for (const [k, v] of object) {
        if (k !== null && typeof k === 'object') stack.push(k);
        if (v !== null && typeof v === 'object') stack.push(v);
      }
      continue;
    }
    if (object instanceof Set) {
      for (const v of object) if (v !== null && typeof v === 'object') stack.push(v);
      continue;
    }
    // Arrays and other objects: their own enumerable properties, as the serializer writes them.
    for (const key of Object.keys(object)) {
      const v = (object as Record<string, unknown>)[key];
      if (v !== null && typeof v === 'object') stack.push(v);
    }
  }
  return false;
}
