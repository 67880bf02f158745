export function statCpuMicros(): number;
export function mainThreadClock(): { source: string | null; read: () => number };
