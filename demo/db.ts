// The simulated database behind both applications: every query holds one of `pool` connections
// for a fixed `latencyMs`; at most `maxQueue` queries wait for a connection, beyond that a query
// is refused at once (like a pool's acquire timeout). So a warm cache costs nothing, and a cold
// one costs what it costs in production: queueing, then refusals.

export interface DbOptions { latencyMs: number; pool: number; maxQueue: number; valueSize: number }

/** The value of item `id` at `version`: deterministic, so the demo can check what a cache holds. */
export function itemValue(id: number, version: number, size: number): Buffer {
  const head = `item ${id} v${version} `;
  return Buffer.from(head.padEnd(size, '.'), 'latin1');
}

export class Database {
  busy = 0;
  private waiting: Array<() => void> = [];
  private versions = new Map<number, number>();

  constructor(private readonly o: DbOptions) {}

  get queued(): number { return this.waiting.length; }

  private async query<T>(f: () => T): Promise<T> {
    if (this.busy >= this.o.pool) {
      if (this.waiting.length >= this.o.maxQueue) throw new Error('db overloaded');
      await new Promise<void>((r) => this.waiting.push(r));
    } else {
      this.busy++;
    }
    try {
      await new Promise((r) => setTimeout(r, this.o.latencyMs));
      return f();
    } finally {
      // Hand the connection straight to the next waiter (busy stays the same), else release it.
      const next = this.waiting.shift();
      if (next) next(); else this.busy--;
    }
  }

  read(id: number): Promise<Buffer> {
    return this.query(() => itemValue(id, this.versions.get(id) ?? 0, this.o.valueSize));
  }

  write(id: number): Promise<Buffer> {
    return this.query(() => {
      const v = (this.versions.get(id) ?? 0) + 1;
      this.versions.set(id, v);
      return itemValue(id, v, this.o.valueSize);
    });
  }
}
