/**
 * A dependency-free SVG bar chart: one panel per metric, one horizontal bar
 * per subject at its median, with a whisker from min to max over the runs.
 */
import { fmt } from './format.mjs';

const COLORS = { iocp: '#d9480f', peer: '#4c6ef5', primitive: '#2b8a3e', baseline: '#adb5bd' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * rows: [{ label, kind, stats: { [metricKey]: { median, min, max } } | null, note? }]
 * metrics: [{ key, label, unit, better }]
 */
export function barChart({ title, metrics, rows }) {
  const W = 760;
  const labelW = 230;
  const valueW = 110;
  const barH = 20;
  const gap = 8;
  const panelHead = 26;
  const plotW = W - labelW - valueW - 20;
  let y = 34;
  const parts = [];
  for (const m of metrics) {
    parts.push(
      `<text x="10" y="${y + 16}" class="p">${esc(m.label)} (${esc(m.unit)}, ${m.better === 'higher' ? 'higher' : 'lower'} is better)</text>`,
    );
    y += panelHead;
    const values = rows.flatMap((r) => {
      const s = r.stats?.[m.key];
      return s ? [s.max, s.median] : [];
    });
    const max = Math.max(0, ...values.filter(Number.isFinite));
    const scale = max > 0 ? plotW / max : 0;
    for (const r of rows) {
      const s = r.stats?.[m.key];
      const cy = y + barH / 2;
      parts.push(`<text x="${labelW - 8}" y="${cy + 4}" text-anchor="end">${esc(r.label)}</text>`);
      if (!s || !Number.isFinite(s.median)) {
        parts.push(`<text x="${labelW + 4}" y="${cy + 4}" class="n">${esc(r.note ?? 'not measured')}</text>`);
      } else {
        const w = Math.max(1, s.median * scale);
        parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[r.kind] ?? '#868e96'}" rx="2"/>`);
        if (Number.isFinite(s.min) && Number.isFinite(s.max) && s.max > s.min) {
          const x1 = labelW + s.min * scale;
          const x2 = labelW + s.max * scale;
          parts.push(
            `<path d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 5}V${cy + 5}M${x2.toFixed(1)} ${cy - 5}V${cy + 5}" stroke="#212529" stroke-width="1.2" fill="none"/>`,
          );
        }
        const tx = labelW + Math.max(w, Number.isFinite(s.max) ? s.max * scale : w) + 6;
        parts.push(`<text x="${Math.min(tx, W - valueW + 10).toFixed(1)}" y="${cy + 4}">${esc(fmt(s.median))}</text>`);
      }
      y += barH + gap;
    }
    y += 10;
  }
  const H = y + 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">
<style>text{fill:#212529}.t{font-size:14px;font-weight:600}.p{font-weight:600}.n{fill:#868e96;font-style:italic}</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="22" class="t">${esc(title)}</text>
${parts.join('\n')}
</svg>
`;
}
