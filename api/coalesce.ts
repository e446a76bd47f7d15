// Requests that arrive together share one call: items submitted to a group are held until the
// event loop's check phase (setImmediate), after the poll phase has read every socket that was
// ready, and then sent as one batch. While a group's batch is in flight, newcomers wait for its
// answer and go together in the next batch: one call per round trip rather than one per item,
// which is what ioredis's auto-pipelining does for commands, here one level up, so that the
// items also share one command and one script run in Redis.
//
// Each item gets its own result, in the order the batch returned them; a batch that fails
// fails each of its items with the same error. Nothing outlives the answers: a group with
// nothing waiting and nothing in flight is forgotten.

/** Runs one batch of a group; resolves to one result per item, in the items' order. */
export type BatchRunner<T, R> = (group: string, items: T[]) => Promise<R[]>;

/** Submits one item to a group; resolves to the item's own result. */
export type Coalesced<T, R> = (group: string, item: T) => Promise<R>;

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

interface Group<T, R> {
  waiting: Waiting<T, R>[];
  /** batches sent and not yet answered */
  inFlight: number;
  /** a flush is scheduled for the next check phase */
  scheduled: boolean;
}

/** `maxItems`: most items per batch (a longer queue leaves as several batches at once). */
export function coalesce<T, R>(run: BatchRunner<T, R>, maxItems: number): Coalesced<T, R> {
  const groups = new Map<string, Group<T, R>>();

  const schedule = (name: string, group: Group<T, R>) => {
    group.scheduled = true;
    setImmediate(flush, name, group);
  };

  function flush(name: string, group: Group<T, R>): void {
    group.scheduled = false;
    const all = group.waiting;
    group.waiting = [];
    if (all.length <= maxItems) send(name, group, all);
    else for (let i = 0; i < all.length; i += maxItems) send(name, group, all.slice(i, i + maxItems));
  }

  function send(name: string, group: Group<T, R>, batch: Waiting<T, R>[]): void {
    group.inFlight += 1;
    const settled = () => {
      group.inFlight -= 1;
      if (group.inFlight > 0) return;
      if (group.waiting.length > 0) schedule(name, group);
      else if (!group.scheduled) groups.delete(name);
    };
    let answer: Promise<R[]>;
    try {
      answer = run(name, batch.map((w) => w.item));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (results) => {
        settled();
        if (results.length !== batch.length) {
          const err = new Error(`a batch of ${batch.length} items answered ${results.length} results`);
          for (const w of batch) w.reject(err);
          return;
        }
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
      },
      (err: unknown) => {
        settled();
        for (const w of batch) w.reject(err);
      },
    );
  }

  return (name, item) =>
    new Promise<R>((resolve, reject) => {
      let group = groups.get(name);
      if (group === undefined) {
        group = { waiting: [], inFlight: 0, scheduled: false };
        groups.set(name, group);
      }
      group.waiting.push({ item, resolve, reject });
      if (group.inFlight === 0 && !group.scheduled) schedule(name, group);
    });
}
