/**
 * What `up` shows on a terminal, the way `docker compose up` does: every child's lines prefixed
 * with its service name (`worker-1 | `), JSON logs pretty-printed by pino-pretty, and a status
 * line every few seconds. Not on a terminal (CI, a pipe, a log collector), children write their
 * JSON lines straight through and there is no status line.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { prettyFactory } from 'pino-pretty';

export const NAME_WIDTH = 9;

export function prefixer(name: string, colorize: boolean) {
  const pretty = prettyFactory({
    colorize,
    singleLine: true,
    ignore: 'pid,hostname,name',
    translateTime: 'SYS:HH:MM:ss',
  });
  const prefix = `${name.padEnd(NAME_WIDTH)}| `;
  /** One line of a child's output → the lines to show, each prefixed. */
  return (line: string): string => {
    let text = line;
    if (line.startsWith('{')) {
      try {
        text = pretty(JSON.parse(line) as object).replace(/\n$/, '');
      } catch {
        /* not JSON after all: shown as it is */
      }
    }
    return text
      .split('\n')
      .map((l) => `${prefix}${l}\n`)
      .join('');
  };
}

/** Forwards a child spawned with piped stdout/stderr, each line prefixed with `name`. */
export function forwardOutput(
  child: ChildProcess,
  name: string,
  opts: { colorize: boolean; out?: Writable; err?: Writable },
) {
  const format = prefixer(name, opts.colorize);
  const pipe = (from: NodeJS.ReadableStream | null, to: Writable) => {
    if (!from) return;
    createInterface({ input: from, crlfDelay: Infinity }).on('line', (l) => to.write(format(l)));
  };
  pipe(child.stdout, opts.out ?? process.stdout);
  pipe(child.stderr, opts.err ?? process.stderr);
}

/** A stream that writes each line given to it to `to`, prefixed and pretty-printed as `name`'s. */
export function prefixedStream(name: string, opts: { colorize: boolean; to?: Writable }): Writable {
  const format = prefixer(name, opts.colorize);
  const to = opts.to ?? process.stderr;
  let partial = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) to.write(format(l));
      done();
    },
  });
}
