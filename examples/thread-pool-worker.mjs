// The body of CThreadPools' Run() loop (docs/background.md): "WPARAM request = (WPARAM) dwCompletionKey; // 处理消息 (process it)".
// The pool thread calls this with the wParam of each packet until it takes its sentinel.
import { currentPool } from 'iocp-pool';

const handled = new Int32Array(currentPool().workerData.handled);
const requests = handled.length - 1;

export default function processRequest(request) {
  if (!Number.isInteger(request) || request < 0 || request >= requests) throw new RangeError(`bad request ${request}`);
  Atomics.add(handled, request, 1);
  Atomics.add(handled, requests, 1);
}
