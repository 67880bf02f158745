export function startBusyLoops(n: number): Promise<{ pids: number[]; stop: () => Promise<void> }>;
