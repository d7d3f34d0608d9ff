#!/usr/bin/env node
/** The `tegnas` command line: one file per command; usage errors exit with code 2. */
import { TegnasError } from '../errors.js';
import { backendInfo, nativeVersion } from '../native.js';
import { UsageError } from './args.js';
import { CORRELATE_HELP, correlateCommand } from './correlate.js';
import { NTK_HELP, ntkCommand } from './ntk.js';
import { NB201_HELP, nb201Command } from './nb201.js';
import { PRECOMPUTE_HELP, precomputeCommand } from './precompute.js';
import { SCORE_HELP, scoreCommand } from './score.js';
import { SEARCH_HELP, searchCommand } from './search.js';

const HELP = `tegnas: training-free neural architecture search (TE-NAS / TEG-NAS) in a native engine

usage: tegnas <command> [options]

commands:
  search     a training-free architecture search (evolution, reinforce, prune, random)
  nb201      NAS-Bench-201 ground truth of an architecture, an index, or the top K
  score      the TEG indicators of one architecture (--seeds K: their spread over seeds)
  correlate  Kendall tau and Spearman rho of each indicator against NAS-Bench-201 accuracy, with a plot
  precompute score every NAS-Bench-201 class into an SQLite database that searches can read (resumable)
  ntk        per-sample gradients and NTK of a NAS-Bench-201 architecture on the shipped images
  backend    what the native addon was built with and which backend it uses
  version    print versions

${SEARCH_HELP}

${SCORE_HELP}

${CORRELATE_HELP}

${PRECOMPUTE_HELP}

${NB201_HELP}

${NTK_HELP}
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    case 'version':
    case '--version':
      process.stdout.write(`tegnas ${nativeVersion()}\n`);
      return 0;
    case 'backend':
      process.stdout.write(`${JSON.stringify(backendInfo(), null, 2)}\n`);
      return 0;
    case 'search':
      await searchCommand(rest);
      return 0;
    case 'nb201':
      await nb201Command(rest);
      return 0;
    case 'correlate':
      await correlateCommand(rest);
      return 0;
    case 'score':
      await scoreCommand(rest);
      return 0;
    case 'precompute':
      await precomputeCommand(rest);
      return 0;
    case 'ntk':
      await ntkCommand(rest);
      return 0;
    default:
      throw new UsageError(`unknown command '${cmd}'; run tegnas --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e as Error & { code?: string };
    const usage = e instanceof UsageError || e instanceof TegnasError || err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
    process.stderr.write(`tegnas: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
