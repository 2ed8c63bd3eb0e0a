import { spawnSync } from 'node:child_process';

export interface ChdbResult {
  i: number;
  ok: boolean;
  setup?: boolean;
  error?: string;
  rows?: Record<string, unknown>[];
}

/** Runs statements on chdb (a current ClickHouse in-process, from PyPI) in database `hitstream`. */
export function runOnChdb(statements: string[], setup: string[] = [], maxRows = 50): ChdbResult[] {
  const r = spawnSync('python3', ['test/sql/chdb_run.py'], {
    input: JSON.stringify({ setup, statements, max_rows: maxRows }),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(`chdb runner failed (is chdb installed? pip install chdb): ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChdbResult);
}
