/** A Kaggle-format CSV cut into parts, for the benches and tests that need data in stages. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `path`'s rows cut into named CSV files in `dir`, each with the header; returns their paths. */
export function csvParts<K extends string>(
  path: string,
  dir: string,
  parts: Record<K, (rows: string[]) => string[]>,
) {
  const [header, ...rows] = readFileSync(path, 'utf8').trimEnd().split('\n');
  return Object.fromEntries(
    Object.entries<(rows: string[]) => string[]>(parts).map(([name, pick]) => {
      const out = join(dir, `${name}.csv`);
      writeFileSync(out, `${[header!, ...pick(rows)].join('\n')}\n`);
      return [name, out];
    }),
  ) as Record<K, string>;
}

/** The rows under new track ids (`<id>-<suffix>`): the same features, tracks no version has seen. */
export const renamed = (rows: string[], suffix: string) =>
  rows.map((r) => r.replace(/^([^,]*),([^,]*),/, `$1,$2-${suffix},`));
