/**
 * Fan-out of scored events to WebSocket clients. Each client has a bounded queue: when a slow
 * client falls behind, its oldest messages are dropped (never the others' and never blocking the
 * source) and it is told how many it missed. Filters come from the client's subscribe message.
 * An event seen recently is not sent again: a worker re-scores events after a crash, and a
 * producer resends a whole request after a broker fails over, so the predictions topic can hold
 * an event twice; storage keeps it once, and so does the feed.
 */
import type { ScoredEvent } from '../../schemas/prediction.ts';

export interface Filter {
  genre?: string;
  model?: string;
  minScore?: number;
  /** Send the shadow version's scores too (left out otherwise: the feed serves live scores). */
  shadow?: boolean;
  /** Send the sampled events' explanations too (`{"type":"explanation"}`). */
  explanations?: boolean;
}

/** One explained event as the feed sends it: each score's base, output and SHAP values. */
export interface FeedExplanation {
  event_id: string;
  track_id: string;
  track_genre: string;
  scores: Record<
    string,
    { model_version: string; base: number; output: number; contributions: Record<string, number> }
  >;
}

export interface FeedClient {
  /** Sends one text frame (a Buffer holds UTF-8 text). */
  send(text: string | Buffer): void;
  /** Bytes still buffered in the socket. */
  bufferedAmount(): number;
  /**
   * Runs `sends` with the socket corked, so the frames it sends leave in one write: one system
   * call per client per fetched batch instead of one per message (20 clients × 1,000 events/s).
   */
  batch?(sends: () => void): void;
}

interface Subscriber {
  client: FeedClient;
  filter: Filter;
  queue: Buffer[];
  missed: number;
}

export function matches(f: Filter, e: ScoredEvent): boolean {
  if (f.genre && e.track_genre !== f.genre) return false;
  if (f.minScore !== undefined) {
    const s = f.model ? e.scores[f.model] : Math.max(...Object.values(e.scores));
    if (s === undefined || s < f.minScore) return false;
  }
  return true;
}

/** The last `capacity` ids seen, oldest forgotten first. */
export class RecentIds {
  private readonly ids = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  /** True when `id` is new (and remembers it). */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    if (this.order.length < this.capacity) this.order.push(id);
    else {
      this.ids.delete(this.order[this.next]!);
      this.order[this.next] = id;
      this.next = (this.next + 1) % this.capacity;
    }
    this.ids.add(id);
    return true;
  }
}

export class FeedHub {
  private readonly subs = new Map<FeedClient, Subscriber>();
  /** A minute of events at 1,000/s: re-deliveries come within seconds. */
  private readonly recent = new RecentIds(60_000);
  dropped = 0;
  delivered = 0;
  duplicates = 0;

  constructor(
    private readonly maxQueue = 500,
    private readonly maxSocketBuffer = 1 << 20,
  ) {}

  add(client: FeedClient): void {
    this.subs.set(client, { client, filter: {}, queue: [], missed: 0 });
  }
  remove(client: FeedClient): void {
    this.subs.delete(client);
  }
  setFilter(client: FeedClient, filter: Filter): void {
    const s = this.subs.get(client);
    if (s) s.filter = filter;
  }
  get size(): number {
    return this.subs.size;
  }

  publish(all: readonly ScoredEvent[]): void {
    const events = all.filter((e) => this.recent.add(e.event_id));
    this.duplicates += all.length - events.length;
    if (!this.subs.size || !events.length) return;
    // Serialised and encoded once per event, not once per client (20 clients: 20x less work):
    // live scores only, and, if a client asked for them, with the shadow scores.
    const encode = (withShadow: boolean) =>
      events.map((e) =>
        Buffer.from(JSON.stringify({ type: 'prediction', ...e, shadow: withShadow ? e.shadow : undefined })),
      );
    const subs = [...this.subs.values()];
    const live = subs.some((s) => !s.filter.shadow) ? encode(false) : [];
    const withShadow = subs.some((s) => s.filter.shadow) ? encode(true) : [];
    for (const s of subs) {
      const texts = s.filter.shadow ? withShadow : live;
      if (s.client.batch) s.client.batch(() => this.deliver(s, events, texts));
      else this.deliver(s, events, texts);
    }
  }

  private deliver(s: Subscriber, events: readonly ScoredEvent[], texts: readonly Buffer[]): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (!matches(s.filter, e)) continue;
      const text = texts[i]!;
      // Straight to the socket while it keeps up; queue only behind a backed-up one.
      if (!s.queue.length && s.missed === 0 && s.client.bufferedAmount() < this.maxSocketBuffer) {
        s.client.send(text);
        this.delivered++;
      } else s.queue.push(text);
    }
    if (s.queue.length > this.maxQueue) {
      const drop = s.queue.length - this.maxQueue;
      s.queue.splice(0, drop);
      s.missed += drop;
      this.dropped += drop;
    }
    this.flush(s);
  }

  /** Sends what the socket can take now; the rest waits for the next flush. */
  flush(s: Subscriber): void {
    if (s.missed > 0 && s.client.bufferedAmount() < this.maxSocketBuffer) {
      s.client.send(JSON.stringify({ type: 'missed', count: s.missed }));
      s.missed = 0;
    }
    while (s.queue.length && s.client.bufferedAmount() < this.maxSocketBuffer) {
      s.client.send(s.queue.shift()!);
      this.delivered++;
    }
  }

  /** Whether any client asked for explanations (the source reads them only then). */
  wantsExplanations(): boolean {
    for (const s of this.subs.values()) if (s.filter.explanations) return true;
    return false;
  }

  /** Sends explanations to the clients that asked for them (genre filter applied), queued like predictions. */
  publishExplanations(explained: readonly FeedExplanation[]): void {
    for (const s of this.subs.values()) {
      if (!s.filter.explanations) continue;
      for (const e of explained)
        if (!s.filter.genre || e.track_genre === s.filter.genre)
          s.queue.push(Buffer.from(JSON.stringify({ type: 'explanation', ...e })));
      this.flush(s);
    }
  }

  flushAll(): void {
    for (const s of this.subs.values()) this.flush(s);
  }
}
