/** Progress on a terminal as a bar redrawn in place, otherwise plain lines (at most one per second). */
import type { SearchProgress } from '../search/types.js';

export interface ProgressBar {
  /** Shows `done` of `total` with `label` before the bar and `text` after it. */
  update: (label: string, done: number, total: number, text: string) => void;
  done: () => void;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const tty = Boolean(stream.isTTY);
  let last = -Infinity;
  let drawn = false;
  return {
    update(label, done, total, text) {
      const now = performance.now();
      if (now - last < (tty ? 100 : 1000) && done < total) return;
      last = now;
      if (tty) {
        const width = 24;
        const filled = Math.round((total ? Math.min(1, done / total) : 0) * width);
        stream.write(`\r\x1b[2K${`${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`.slice(0, (stream.columns || 120) - 1)}`);
        drawn = true;
      } else stream.write(`${label}: ${text}\n`);
    },
    done() {
      if (tty && drawn) stream.write('\n');
    },
  };
}

/** A duration for people: `42s`, `7m 05s`, `3h 12m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A search's progress bar with the best architecture so far. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { update: (p: SearchProgress) => void; done: () => void } {
  const bar = progressBar(stream);
  return {
    update(p) {
      const frac = p.total ? Math.min(1, p.done / p.total) : 0;
      const rate = p.seconds > 0 ? p.evaluations / p.seconds : 0;
      const eta = frac > 0 ? (p.seconds / frac) * (1 - frac) : 0;
      const best = p.best ? ` best ${p.best.arch} (cond ${p.best.scores.cond?.toPrecision(4) ?? 'n/a'}, regions ${p.best.scores.regions.toFixed(0)})` : '';
      const stats = `${p.done}/${p.total} ${p.evaluations} evals (${p.unique} unique) ${rate.toFixed(2)}/s ${p.seconds.toFixed(0)}s, ~${eta.toFixed(0)}s left`;
      bar.update(p.algo, p.done, p.total, `${stats}${best}`);
    },
    done: bar.done,
  };
}
