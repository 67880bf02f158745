// Types for examples/echo-server.mjs (so the TypeScript tests can import it).
export interface EchoServer {
  /** The TCP port it listens on (the one chosen by the system for port 0). */
  readonly port: number;
  /** Open connections. */
  connections(): number;
  /** Closes connections and the listener, then one sentinel per worker; resolves when all are gone. */
  close(): Promise<{ workerExitCodes: number[]; packetsLeft: number }>;
}
export function startEchoServer(options?: { port?: number; host?: string; threads?: number; slots?: number }): Promise<EchoServer>;
