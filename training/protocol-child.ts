/**
 * The seed protocol in a child process while this one trains the grouped protocol (`train
 * --jobs 2`): every trainer is single-threaded, so two cores finish in the longer protocol's time.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TrainOptions } from './options.ts';
import type { Protocol, Section, TrainReport } from './results.ts';
import type { TrainingRow } from './rows.ts';

type Row = TrainingRow;

const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));

/**
 * Runs `hitstream train --protocols <protocol>` as a child process writing into a temporary
 * folder, forwards its progress lines, and returns its report section.
 */
export async function protocolInChild(opts: TrainOptions, protocol: Protocol, rows: Row[]): Promise<Section> {
  const tmp = await mkdtemp(join(tmpdir(), `hitstream-train-${protocol}-`));
  try {
    // The child trains on exactly these rows (ClickHouse may have more by the time it would read).
    const rowsFile = join(tmp, 'rows.jsonl');
    await writeFile(rowsFile, rows.map((r) => JSON.stringify(r)).join('\n'));
    const args = [
      BIN,
      'train',
      '--from',
      'jsonl',
      '--data',
      rowsFile,
      '--min-rows',
      '1',
      '--models',
      opts.models.join(','),
      '--seed',
      String(opts.seed),
    ];
    const child = spawn(
      process.execPath,
      [...args, '--protocols', protocol, '--jobs', '1', '--out', join(tmp, 'artifacts')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const tail: string[] = [];
    for await (const line of createInterface({ input: child.stderr })) {
      const text = line.replace(/^train: /, '');
      tail.push(text);
      if (tail.length > 20) tail.shift();
      if (/^ {2}\S/.test(text)) opts.log(text); // per-model lines; the child's header repeats ours
    }
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (c) => resolve(c));
    });
    if (code !== 0)
      throw new Error(
        `training the ${protocol} protocol in a child process failed (exit ${code}):\n${tail.join('\n')}`,
      );
    const childReport = JSON.parse(await readFile(join(tmp, 'report.json'), 'utf8')) as TrainReport;
    const section = childReport.protocols[protocol];
    if (!section) throw new Error(`the ${protocol} child wrote no ${protocol} section`);
    return section;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
