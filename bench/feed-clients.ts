/**
 * The WebSocket clients of `bench feed`, run as a child process of the bench: they stand in for
 * browsers, so they get a process of their own, apart from the replay that generates the load.
 * Sharing one process, the replay's garbage made the clients' heap collect in 20-60 ms pauses
 * (--trace-gc), and every pause read as feed latency. Started with the services' Node flags.
 *
 * Protocol over the IPC channel: the child sends `connected`; the parent sends `start` when the
 * replay starts, `count` to ask how many messages arrived (answered with `count`), and `stop`,
 * answered with `stats` (per client: counts and typed arrays of receipt times and latencies).
 */
import WebSocket from 'ws';

export interface ClientReport {
  received: number;
  missed: number;
  /** Receipt time of each prediction (ms since the epoch), and its two latencies. */
  at: Float64Array;
  fromScore: Float64Array;
  fromEvent: Float64Array;
}

export type ToClients = { type: 'start' } | { type: 'count' } | { type: 'stop' };
export type FromClients =
  { type: 'connected' } | { type: 'count'; got: number } | { type: 'stats'; clients: ClientReport[] };

/** What one client saw, in arrays allocated up front (growing JS arrays also meant GC pauses). */
class ClientStats implements ClientReport {
  received = 0;
  missed = 0;
  at: Float64Array;
  fromScore: Float64Array;
  fromEvent: Float64Array;
  constructor(capacity: number) {
    this.at = new Float64Array(capacity);
    this.fromScore = new Float64Array(capacity);
    this.fromEvent = new Float64Array(capacity);
  }
  add(at: number, fromScore: number, fromEvent: number): void {
    if (this.received === this.at.length)
      for (const key of ['at', 'fromScore', 'fromEvent'] as const) {
        const bigger = new Float64Array(this.at.length * 2);
        bigger.set(this[key]);
        this[key] = bigger;
      }
    this.at[this.received] = at;
    this.fromScore[this.received] = fromScore;
    this.fromEvent[this.received] = fromEvent;
    this.received++;
  }
  report(): ClientReport {
    const n = this.received;
    return {
      received: n,
      missed: this.missed,
      at: this.at.slice(0, n),
      fromScore: this.fromScore.slice(0, n),
      fromEvent: this.fromEvent.slice(0, n),
    };
  }
}

const PREDICTION = Buffer.from('{"type":"prediction"');
const SCORED_AT = Buffer.from('"scored_at":"');
const EVENT_TIME = Buffer.from('"event_time":"');
const QUOTE = 0x22;

/** The time in a `"key":"<ISO time>"` field of a message, read from its bytes. */
function timeAfter(data: Buffer, key: Buffer): number {
  const at = data.indexOf(key);
  if (at < 0) return NaN;
  const from = at + key.length;
  return Date.parse(data.toString('latin1', from, data.indexOf(QUOTE, from)));
}

function connect(url: string, stats: ClientStats, measuring: () => boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const now = Date.now();
      // Twenty clients share this process: read the two timestamps of a prediction from its
      // bytes, without decoding or parsing the rest, so measuring stays cheap.
      if (data.subarray(0, PREDICTION.length).equals(PREDICTION)) {
        if (measuring()) stats.add(now, now - timeAfter(data, SCORED_AT), now - timeAfter(data, EVENT_TIME));
        return;
      }
      const m = JSON.parse(data.toString('utf8')) as { type: 'missed'; count: number } | { type: 'hello' };
      if (m.type === 'hello') resolve(ws);
      else if (m.type === 'missed' && measuring()) stats.missed += m.count;
    });
  });
}

async function main(): Promise<void> {
  const [url, clients, capacity] = process.argv.slice(2);
  const send = (m: FromClients) => process.send!(m);
  let measuring = false;
  const stats = Array.from({ length: Number(clients) }, () => new ClientStats(Number(capacity)));
  const sockets = await Promise.all(stats.map((s) => connect(url!, s, () => measuring)));
  process.on('message', (m: ToClients) => {
    if (m.type === 'start') measuring = true;
    else if (m.type === 'count')
      send({ type: 'count', got: stats.reduce((a, s) => a + s.received + s.missed, 0) });
    else {
      measuring = false;
      for (const ws of sockets) ws.close();
      // Disconnect only once the (large) message is out, or the parent could miss it.
      process.send!(
        { type: 'stats', clients: stats.map((s) => s.report()) } satisfies FromClients,
        undefined,
        {},
        () => process.disconnect?.(),
      );
    }
  });
  send({ type: 'connected' });
}

if (process.send) await main();
