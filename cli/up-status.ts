/**
 * `up`'s status line on a terminal, from the workers' own /metrics and the API's alerts:
 * `status | 412 events/s · lag 0 · p99 ≤ 20 ms · 3 dead letters · 1 alert firing: HitstreamFeatureDrift`.
 * The p99 is over the last interval, from the latency histogram's buckets (so it is the bucket's
 * upper bound). Written when it changes, and once a minute when it does not.
 */
export interface WorkerSample {
  eventsIn: number;
  deadLetters: number;
  lag: number;
  /** Histogram `le` → cumulative count (Infinity for +Inf). */
  latency: Map<number, number>;
}

const LINE = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.eE+-]+|NaN|\+Inf)$/;

/** The few series the status line needs, from Prometheus' text format. */
export function parseWorkerMetrics(text: string): WorkerSample {
  const sample: WorkerSample = { eventsIn: 0, deadLetters: 0, lag: 0, latency: new Map() };
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, name, labels = '', raw] = m;
    const value = Number(raw);
    if (name === 'hitstream_events_in_total') sample.eventsIn += value;
    else if (name === 'hitstream_dead_letters_total') sample.deadLetters += value;
    else if (name === 'hitstream_consumer_lag') sample.lag += value;
    else if (name === 'hitstream_event_to_prediction_ms_bucket') {
      const le = /le="([^"]+)"/.exec(labels)?.[1];
      if (le) sample.latency.set(le === '+Inf' ? Infinity : Number(le), value);
    }
  }
  return sample;
}

const sum = (samples: WorkerSample[], pick: (s: WorkerSample) => number) =>
  samples.reduce((a, s) => a + pick(s), 0);

function mergedLatency(samples: WorkerSample[]): Map<number, number> {
  const merged = new Map<number, number>();
  for (const s of samples) for (const [le, n] of s.latency) merged.set(le, (merged.get(le) ?? 0) + n);
  return merged;
}

/** p99 of the events between two samples: the upper bound of the bucket that holds it. */
export function p99Between(before: Map<number, number>, after: Map<number, number>): number | null {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return null;
  for (const le of les) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= 0.99 * total) return le;
  return Infinity;
}

export function statusLine(before: WorkerSample[], after: WorkerSample[], seconds: number): string {
  const rate = (sum(after, (s) => s.eventsIn) - sum(before, (s) => s.eventsIn)) / seconds;
  const p99 = p99Between(mergedLatency(before), mergedLatency(after));
  const dead = sum(after, (s) => s.deadLetters);
  return [
    `${Math.max(0, Math.round(rate))} events/s`,
    `lag ${sum(after, (s) => s.lag)}`,
    `p99 ${p99 === null ? '–' : p99 === Infinity ? '> 10 s' : `≤ ${p99} ms`}`,
    `${dead} dead letter${dead === 1 ? '' : 's'}`,
  ].join(' · ');
}

/** ` · 2 alerts firing: A, B` for the alerts firing now; '' when none (or they cannot be read). */
export function alertsPart(names: string[]): string {
  if (!names.length) return '';
  const unique = [...new Set(names)];
  return ` · ${names.length} alert${names.length === 1 ? '' : 's'} firing: ${unique.slice(0, 3).join(', ')}${unique.length > 3 ? ', …' : ''}`;
}

/** Writes `line` when it differs from the last one written, or `quietMs` after it. */
export function changesOnly(write: (line: string) => void, quietMs: number, now = () => Date.now()) {
  let last: { line: string; at: number } | undefined;
  return (line: string) => {
    if (last && last.line === line && now() - last.at < quietMs) return;
    last = { line, at: now() };
    write(line);
  };
}

/** Polls the workers every `everyMs` and writes a status line; returns a stop function. */
export function startStatusLine(
  metricsUrls: string[],
  write: (line: string) => void,
  opts: { everyMs?: number; quietMs?: number; alertsUrl?: string } = {},
): () => void {
  const everyMs = opts.everyMs ?? 5_000;
  const say = changesOnly(write, opts.quietMs ?? 60_000);
  const read = () =>
    Promise.all(
      metricsUrls.map((u) =>
        fetch(u, { signal: AbortSignal.timeout(2_000) })
          .then((r) => r.text())
          .then(parseWorkerMetrics)
          .catch(() => undefined),
      ),
    );
  const firing = async () =>
    opts.alertsUrl
      ? fetch(opts.alertsUrl, { signal: AbortSignal.timeout(2_000) })
          .then((r) => r.json() as Promise<{ active?: { alertname: string; severity?: string }[] }>)
          // `info` is news (the autopilot's outcomes), not something firing that needs a person.
          .then((b) => (b.active ?? []).filter((a) => a.severity !== 'info').map((a) => a.alertname))
          .catch(() => [])
      : [];
  let last: { at: number; samples: WorkerSample[] } | undefined;
  const tick = async () => {
    const [samples, alerts] = await Promise.all([read(), firing()]);
    const ok = samples.filter((s): s is WorkerSample => s !== undefined);
    const missing = samples.length - ok.length;
    const at = Date.now();
    if (last && last.samples.length === ok.length)
      say(
        statusLine(last.samples, ok, (at - last.at) / 1000) +
          (missing ? ` · ${missing} worker${missing === 1 ? '' : 's'} not answering` : '') +
          alertsPart(alerts),
      );
    last = { at, samples: ok };
  };
  void tick();
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
