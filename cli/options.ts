/**
 * Option parsers shared by the subcommands. Commander names the option when one throws:
 * `--rate abc` → "option '--rate <n>' argument 'abc' is invalid. must be a positive number."
 */
import { InvalidArgumentError } from 'commander';
import { parseWindow } from '../api/routes/drift.ts';

export function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number.');
  return n;
}

export function positiveInteger(value: string): number {
  const n = positive(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be a whole number.');
  return n;
}

/** `90s`, `15m`, `2h`, `7d` → seconds. */
export function duration(value: string): number {
  try {
    return parseWindow(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
