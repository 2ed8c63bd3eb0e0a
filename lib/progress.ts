/**
 * Progress lines for long-running commands: rows done, rate, ETA, on stderr. On a terminal the
 * line redraws in place; elsewhere (CI, logs) one line every few seconds.
 */
export class ProgressReporter {
  private readonly t0 = performance.now();
  private lastPrint = 0;
  private readonly tty = process.stderr.isTTY;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly everyMs = 2000,
  ) {}

  elapsedSeconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  update(done: number, extra = '', force = false): void {
    const now = performance.now();
    if (!force && now - this.lastPrint < (this.tty ? 200 : this.everyMs)) return;
    this.lastPrint = now;
    const secs = this.elapsedSeconds();
    const rate = done / Math.max(secs, 1e-3);
    const pct = this.total ? ` ${((100 * done) / this.total).toFixed(1)}%` : '';
    const eta = this.total && rate > 0 ? ` ETA ${Math.max(0, (this.total - done) / rate).toFixed(0)} s` : '';
    const line = `${this.label}: ${done.toLocaleString('en-US')}${this.total ? `/${this.total.toLocaleString('en-US')}` : ''} rows${pct}, ${Math.round(rate).toLocaleString('en-US')} rows/s${eta}${extra ? `, ${extra}` : ''}`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  done(summary: string): void {
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}${this.label}: ${summary}\n`);
  }
}
