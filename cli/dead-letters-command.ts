/** `hitstream dead-letters list | redrive`: the dead letters the workers stored, and a way back. */
import { InvalidArgumentError, type Command } from 'commander';
import { createClickhouse } from '../lib/clickhouse.ts';
import { loadConfig } from '../lib/config.ts';
import { ensureTopics } from '../lib/kafka.ts';
import { ProgressReporter } from '../lib/progress.ts';
import { createPublisher } from '../producers/publisher.ts';
import { readDeadLetters, redriveDeadLetters } from '../producers/redrive.ts';
import { DEAD_LETTER_CODES } from '../schemas/dead-letter.ts';
import { duration, positiveInteger } from './options.ts';

const say = (m: string) => process.stderr.write(`dead-letters: ${m}\n`);

function code(value: string): string {
  if (!(DEAD_LETTER_CODES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`must be one of ${DEAD_LETTER_CODES.join(', ')}.`);
  return value;
}

interface FilterOptions {
  since: number;
  code?: string;
  limit: number;
}

const withFilters = (c: Command) =>
  c
    .option('--since <window>', 'how far back (90s, 15m, 2h, 7d)', duration, 7 * 86400)
    .option('--code <code>', `only this error code (${DEAD_LETTER_CODES.join(', ')})`, code)
    .option('--limit <n>', 'at most this many, newest first', positiveInteger, 100_000);

export function registerDeadLettersCommand(program: Command): void {
  const dl = program
    .command('dead-letters')
    .description('The events the workers could not score, and redriving them');
  withFilters(
    dl
      .command('list')
      .description('Show stored dead letters, newest first: time, code, field, reason, payload'),
  ).action(async (opts: FilterOptions) => {
    const cfg = loadConfig();
    const client = createClickhouse(cfg);
    try {
      const rows = await readDeadLetters(client, cfg, {
        sinceSeconds: opts.since,
        code: opts.code,
        limit: Math.min(opts.limit, 1000),
      });
      for (const r of rows)
        process.stdout.write(
          `${new Date(r.time * 1000).toISOString()}  ${r.error_code.padEnd(17)} ${(r.field || '-').padEnd(14)} ${r.message.slice(0, 90)}${r.redriven ? '  [redriven]' : ''}\n` +
            `    ${r.kafka_topic}/${r.kafka_partition}@${r.kafka_offset}  ${r.payload_encoding === 'base64' ? '(base64) ' : ''}${r.payload.slice(0, 120)}${r.payload.length > 120 ? '…' : ''}\n`,
        );
      const byCode = new Map<string, number>();
      for (const r of rows) byCode.set(r.error_code, (byCode.get(r.error_code) ?? 0) + 1);
      say(
        rows.length
          ? `${rows.length} dead letter${rows.length === 1 ? '' : 's'} (${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')}); \`npx hitstream dead-letters redrive --dry-run\` shows which would be accepted now`
          : 'no dead letters in that window',
      );
    } finally {
      await client.close();
    }
  });
  withFilters(
    dl
      .command('redrive')
      .description(
        'Republish stored dead letters to the tracks topic once their cause is fixed; each is redriven once, payloads that would fail again are left',
      ),
  )
    .option('--dry-run', 'say what would be republished, publish nothing')
    .action(async (opts: FilterOptions & { dryRun?: boolean }) => {
      const cfg = loadConfig();
      const client = createClickhouse(cfg);
      const dryRun = Boolean(opts.dryRun);
      if (!dryRun) await ensureTopics(cfg, { log: say });
      const publisher = dryRun ? undefined : await createPublisher(cfg, 'hitstream-redrive');
      const progress = new ProgressReporter('dead-letters redrive', undefined);
      try {
        const s = await redriveDeadLetters(
          {
            client,
            cfg,
            publisher: publisher ?? {
              publish: () => Promise.reject(new Error('dry run')),
              sendTo: () => Promise.reject(new Error('dry run')),
              close: () => Promise.resolve(),
            },
          },
          { sinceSeconds: opts.since, code: opts.code, limit: opts.limit, dryRun },
          (done) => progress.update(done),
        );
        const invalid = Object.entries(s.stillInvalid);
        progress.done(
          `${s.considered} dead letters: ${s.redriven} ${dryRun ? 'would be' : ''} republished to ${cfg.topicTracks}, ${s.skipped} redriven before (skipped)` +
            (invalid.length
              ? `, ${invalid.reduce((a, [, v]) => a + v.n, 0)} would fail again (${invalid.map(([c, v]) => `${c} ${v.n}: ${v.example.slice(0, 80)}`).join('; ')})`
              : '') +
            (s.notEvents
              ? `, ${s.notEvents} storage_rejected rows (not events; fix the table, they cannot be republished)`
              : '') +
            (dryRun ? ' (dry run: nothing published)' : ''),
        );
      } finally {
        await publisher?.close();
        await client.close();
      }
    });
}
