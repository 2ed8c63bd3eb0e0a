/**
 * Runs concurrent calls as one. Requests submitted in the same turn of the event loop, or while
 * a run is in progress, are handed to the next run together, and each caller gets its own result.
 *
 * Why: the consumer hands over a fetch as one batch per partition. Scoring each partition's ~12 events on their
 * own paid the four models' per-call cost (about 3 ms, mostly TensorFlow.js op dispatch) four
 * times per fetch, and one Kafka produce request each; scored together, once.
 */
export class Coalescer<I, O> {
  private queue: { input: I; resolve: (o: O) => void; reject: (err: unknown) => void }[] = [];
  private busy = false;

  /** `run` gets every waiting request and must return one result per request, in order. */
  constructor(private readonly run: (inputs: I[]) => Promise<O[]>) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.busy) {
        this.busy = true;
        // After the current turn: the other partitions' handlers of this fetch submit first.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const taken = this.queue;
      this.queue = [];
      try {
        const out = await this.run(taken.map((t) => t.input));
        if (out.length !== taken.length)
          throw new Error(`coalesced run returned ${out.length} results for ${taken.length} requests`);
        taken.forEach((t, i) => t.resolve(out[i]!));
      } catch (err) {
        for (const t of taken) t.reject(err);
      }
    }
    this.busy = false;
  }
}
