/** A progress bar with the best so far on a terminal, plain lines otherwise (at most one per second). */
import type { SearchProgress } from '../search/types.js';

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { update: (p: SearchProgress) => void; done: () => void } {
  const tty = Boolean(stream.isTTY);
  let last = 0;
  let drawn = false;
  const line = (p: SearchProgress) => {
    const frac = p.total ? Math.min(1, p.done / p.total) : 0;
    const rate = p.seconds > 0 ? p.evaluations / p.seconds : 0;
    const eta = frac > 0 ? (p.seconds / frac) * (1 - frac) : 0;
    const best = p.best ? ` best ${p.best.arch} (cond ${p.best.scores.cond?.toPrecision(4) ?? 'n/a'}, regions ${p.best.scores.regions.toFixed(0)})` : '';
    const stats = `${p.done}/${p.total} ${p.evaluations} evals (${p.unique} unique) ${rate.toFixed(2)}/s ${p.seconds.toFixed(0)}s, ~${eta.toFixed(0)}s left`;
    if (!tty) return `${p.algo}: ${stats}${best}`;
    const width = 24;
    const filled = Math.round(frac * width);
    return `${p.algo} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${stats}${best}`.slice(0, (stream.columns || 120) - 1);
  };
  return {
    update(p) {
      const now = performance.now();
      if (now - last < (tty ? 100 : 1000) && p.done < p.total) return;
      last = now;
      if (tty) {
        stream.write(`\r\x1b[2K${line(p)}`);
        drawn = true;
      } else stream.write(`${line(p)}\n`);
    },
    done() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
