export function portSuite(
  t: { describe: (name: string, fn: () => void) => unknown; it: (name: string, fn: () => unknown) => unknown; after?: unknown },
  config: { backend: 'portable' | 'native'; lib: unknown; libUrl: string; stressPackets?: number; raceRounds?: number },
): void;
