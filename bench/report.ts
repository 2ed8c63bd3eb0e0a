/** How every bench reports: percentiles and the printed result. No stack, no services. */

/** A bench result as one JSON line (`--json`) or as aligned `key value` lines. */
export function printResult(result: Record<string, unknown>, json: boolean | undefined, width = 26): void {
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    for (const [k, v] of Object.entries(result))
      process.stdout.write(`${k.padEnd(width)} ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
}

/** The q-quantile of an ascending array (NaN when empty). */
export const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
