// A binary min-heap of items keyed by their `due` time (ms), with O(log n) update and removal
// through the index each item keeps of its own position. One heap and one timer drive every
// simulation a worker hosts, instead of a timer per simulation.

export interface Scheduled {
  due: number;
  /** position in the heap; -1 when not in it (maintained by the heap) */
  heapIndex: number;
}

export class DueHeap<T extends Scheduled> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds `item` with `due`, or moves it there if already queued. */
  schedule(item: T, due: number): void {
    item.due = due;
    if (item.heapIndex >= 0) {
      this.up(item.heapIndex);
      this.down(item.heapIndex);
      return;
    }
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top) this.remove(top);
    return top;
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0 || this.items[i] !== item) return;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (i === this.items.length) return;
    this.items[i] = last;
    last.heapIndex = i;
    this.up(i);
    this.down(i);
  }

  private up(i: number): void {
    const items = this.items;
    const x = items[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = items[p]!;
      if (parent.due <= x.due) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    items[i] = x;
    x.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const x = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && items[r]!.due < items[l]!.due ? r : l;
      const child = items[c]!;
      if (child.due >= x.due) break;
      items[i] = child;
      child.heapIndex = i;
      i = c;
    }
    items[i] = x;
    x.heapIndex = i;
  }
}
