import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { HitstreamError } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { loadConfig } from '../lib/config.ts';
import { ensureTopics } from '../lib/kafka.ts';
import { type InputRecord, parseRecords } from '../producers/input-records.ts';
import type { FieldError } from '../schemas/validate.ts';
import { parseLabelCsv, publishLabels } from '../producers/labels.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { runApi } from '../api/main.ts';
import { runWorker } from '../scorers/main.ts';
import { runLabelSink } from '../labels/main.ts';
import { duration, positive, positiveInteger } from './options.ts';

const withDefaults = (r: unknown) =>
  typeof r === 'object' && r !== null && !Array.isArray(r)
    ? { source: 'cli', event_time: new Date().toISOString(), ...r }
    : r;

type Answer = { ok: true; track_id: string } | { ok: false; errors: FieldError[] };

/**
 * One NDJSON answer per input record, in input order (a line that was not JSON answered as
 * rejected, the others by what publishing said), then a summary; exit code 2 when any was refused.
 */
function printAnswers(command: string, input: readonly InputRecord[], published: readonly Answer[]) {
  const answers = published.values();
  // Each answer indexed by its place in the input (publishing numbered only the JSON records).
  const results = input.map((r, index) => ({
    ...(r.ok ? answers.next().value! : { ok: false as const, errors: [r.error] }),
    index,
  }));
  for (const r of results)
    process.stdout.write(
      `${JSON.stringify(r.ok ? { index: r.index, accepted: true, track_id: r.track_id } : { index: r.index, accepted: false, errors: r.errors })}\n`,
    );
  const bad = results.filter((r) => !r.ok).length;
  process.stderr.write(`${command}: ${results.length - bad} accepted, ${bad} rejected\n`);
  if (bad) process.exitCode = 2;
}

/** The file `--csv` names, or an error naming the option and the path. */
function readCsvOption(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new HitstreamError('CLI_BAD_OPTION', `--csv: cannot read ${path} (${(err as Error).message})`, {
      field: '--csv',
      cause: err,
    });
  }
}

export function registerPipelineCommands(program: Command): void {
  program
    .command('publish')
    .description('Publish track events: one JSON object as an argument, or NDJSON on stdin')
    .argument('[json]', 'one TrackFeatures object (default: read NDJSON from stdin)')
    .action(async (json: string | undefined) => {
      const cfg = loadConfig();
      const input = parseRecords(json ?? readFileSync(0, 'utf8'));
      await ensureTopics(cfg, { log: (m) => process.stderr.write(`publish: ${m}\n`) });
      const publisher = await createPublisher(cfg, 'hitstream-cli');
      try {
        const parsed = input.flatMap((r) => (r.ok ? [withDefaults(r.value)] : []));
        printAnswers('publish', input, await publisher.publish(parsed));
      } finally {
        await publisher.close();
      }
    });

  program
    .command('label')
    .description(
      'Publish labels that arrive after their events: one JSON object as an argument, NDJSON on stdin, or --csv with track_id,popularity[,label_time][,event_id]',
    )
    .argument(
      '[json]',
      'one label: {"track_id": …, "popularity": 0..100, "label_time"?: ISO 8601, "event_id"?: …}',
    )
    .option('--csv <path>', 'a CSV of labels with a header naming its columns')
    .action(async (json: string | undefined, opts: { csv?: string }) => {
      const cfg = loadConfig();
      const input = opts.csv
        ? parseLabelCsv(readCsvOption(opts.csv)).map((value) => ({ ok: true as const, value }))
        : parseRecords(json ?? readFileSync(0, 'utf8'));
      await ensureTopics(cfg, { log: (m) => process.stderr.write(`label: ${m}\n`) });
      const publisher = await createPublisher(cfg, 'hitstream-cli');
      try {
        const records = input.flatMap((r) => (r.ok ? [r.value] : []));
        printAnswers('label', input, await publishLabels(publisher, cfg, records, 'cli'));
      } finally {
        await publisher.close();
      }
    });

  program
    .command('label-sink')
    .description('Store the labels topic in ClickHouse (`up` starts one)')
    .action(async () => runLabelSink(loadConfig()));

  program
    .command('replay')
    .description('Stream a Kaggle-format CSV onto the tracks topic (popularity travels as the label)')
    .requiredOption('--data <path>', 'CSV in the Kaggle Spotify Tracks format')
    .option('--rate <n>', 'events per second (default: as fast as possible)', positive)
    .option('--max', 'as fast as possible (the default)')
    .option('--limit <n>', 'stop after this many rows', positiveInteger)
    .option('--loop', 'start over at the end of the file')
    .option(
      '--labels-later',
      'publish the events without popularity, and each label on the labels topic --delay after its event',
    )
    .option(
      '--delay <duration>',
      'with --labels-later: how long after its event a label follows (e.g. 10m, 30s; default 10m)',
      duration,
    )
    .action(
      async (opts: {
        data: string;
        rate?: number;
        limit?: number;
        loop?: boolean;
        labelsLater?: boolean;
        delay?: number;
      }) => {
        const cfg = loadConfig();
        await ensureTopics(cfg, { log: (m) => process.stderr.write(`replay: ${m}\n`) });
        const publisher = await createPublisher(cfg, 'hitstream-replay');
        const abort = new AbortController();
        // First signal: stop reading, send what is in hand, print the summary; second: exit now.
        onShutdownSignal(createLogger('replay'), () => abort.abort(), { backstopMs: cfg.shutdownTimeoutMs });
        try {
          const summary = await replayCsv(publisher, {
            path: opts.data,
            rate: opts.rate,
            limit: opts.limit,
            loop: opts.loop,
            signal: abort.signal,
            ...(opts.labelsLater
              ? {
                  labelsLater: {
                    delayMs: (opts.delay ?? 600) * 1000,
                    publish: async (labels) => {
                      await publishLabels(publisher, cfg, labels, 'replay');
                    },
                  },
                }
              : {}),
          });
          process.stdout.write(`${JSON.stringify(summary)}\n`);
        } finally {
          await publisher.close();
        }
      },
    );

  program
    .command('worker')
    .description('Run one scorer worker (join the consumer group, score with all four models)')
    .action(async () => runWorker(loadConfig()));

  program
    .command('api')
    .description('Run the HTTP API, the WebSocket feed (/feed) and the web pages')
    .action(async () => runApi(loadConfig()));
}
