// Coalesces state writes: many changes within `delayMs` become one write, and
// writes never overlap. flush() writes whatever is pending now (shutdown).
export interface Saver {
  /** Something changed; it will be written within about `delayMs`. */
  markDirty(): void;
  flush(): Promise<void>;
  stop(): void;
}

export function createSaver(
  write: () => Promise<void>,
  delayMs: number,
  onResult: (err: Error | null) => void,
): Saver {
  let dirty = false;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  let stopped = false;

  const run = async (): Promise<void> => {
    timer = null;
    if (inFlight !== null) {
      await inFlight;
      if (!dirty) return;
    }
    if (!dirty) return;
    dirty = false;
    inFlight = write().then(
      () => onResult(null),
      (err: Error) => {
        dirty = true; // try again on the next change or flush
        onResult(err);
      },
    );
    try {
      await inFlight;
    } finally {
      inFlight = null;
    }
  };

  return {
    markDirty() {
      dirty = true;
      if (timer === null && !stopped) timer = setTimeout(() => void run(), delayMs);
    },
    async flush() {
      if (timer !== null) clearTimeout(timer);
      await run();
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
