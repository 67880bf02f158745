// Types for examples/http-server-render.mjs (so the TypeScript test can compute the answers it expects).
export interface RenderedPage {
  name: string;
  rows: number;
  /** The sum of the rows' values. */
  total: number;
  /** The page's size in UTF-8 bytes. */
  bytes: number;
  /** The first 16 characters of the page's SHA-256, base64url. */
  etag: string;
  /** The thread that rendered it. */
  thread: number;
  /** How long rendering took (ms). */
  ms: number;
}
export function render(request: { name: string; rows: number }): RenderedPage;
