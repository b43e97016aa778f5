/** A counting semaphore with a FIFO queue: at most `limit` holders at once, waiters served in order. */
export class Semaphore {
  private active = 0;
  private peakActive = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a semaphore limit must be a positive integer, not ${limit}`);
  }

  /** how many hold it now */
  get inUse(): number {
    return this.active;
  }

  /** the most that ever held it at once */
  get peak(): number {
    return this.peakActive;
  }

  /** how many wait for it */
  get waiting(): number {
    return this.waiters.length;
  }

  async acquire(): Promise<() => void> {
    if (this.active < this.limit) {
      this.take();
    } else {
      // the releasing holder hands its slot over directly, so the count never dips and a late
      // arrival cannot overtake a waiter
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }

  /** runs `fn` while holding a slot */
  async use<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private take(): void {
    this.active++;
    if (this.active > this.peakActive) this.peakActive = this.active;
  }
}
