// Tiny task for bench/pool-quick.mjs: x → x + 1 (piscina and iocp-pool both take a default export).
export default function addOne(x) {
  return x + 1;
}
