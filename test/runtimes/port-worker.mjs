// The smoke suite's port worker: echoes each packet on the replies port with
// completionKey doubled, until the port is closed under it.
import { parentPort, workerData } from 'node:worker_threads';
import { CompletionPort, PortClosedError } from 'iocp-pool';

const port = CompletionPort.from(workerData.port);
const replies = CompletionPort.from(workerData.replies);
for (;;) {
  let packet;
  try {
    packet = port.get();
  } catch (error) {
    if (!(error instanceof PortClosedError)) throw error;
    parentPort.postMessage({ closed: true, name: error.name, code: error.code });
    break;
  }
  replies.post(packet.bytesTransferred, packet.completionKey * 2, packet.overlapped);
}
port.detach();
replies.detach();
