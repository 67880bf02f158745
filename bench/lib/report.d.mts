import type { RunForDocs } from './prose.mjs';

export function renderReadme(text: string, run: RunForDocs): string;
export function updateReadme(root: URL, run: RunForDocs): string[];
