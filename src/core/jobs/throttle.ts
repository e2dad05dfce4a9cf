/**
 * Throughput limits shared by every instance: a queue with `perMinute` starts a job only with one
 * of the minute's numbered slots, each claimed by one insert (`<queue>|<minute>|<n>`).
 */
import { isDuplicateKey } from '../errors.ts';
import type { JobModels } from './jobs.models.ts';
import { trusted } from './leases.ts';

export function createThrottle(JobSlot: JobModels['JobSlot']) {
  const slotCursor = new Map<string, { minute: number; n: number }>();
  let lastSweep = 0;

  /** Claims one of the queue's slots for this minute; false when the minute's are all taken. */
  async function takeSlot(queue: string, perMinute: number): Promise<boolean> {
    const minute = Math.floor(Date.now() / 60_000);
    const cursor = slotCursor.get(queue);
    let n = cursor?.minute === minute ? cursor.n : 0;
    while (n < perMinute) {
      n += 1;
      try {
        await JobSlot.create({ _id: `${queue}|${minute}|${n}`, at: new Date() });
        slotCursor.set(queue, { minute, n });
        return true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    slotCursor.set(queue, { minute, n });
    return false;
  }

  /** Slots of minutes gone by, removed once a minute (FerretDB has no TTL indexes). */
  async function sweep() {
    if (Date.now() - lastSweep < 60_000) return;
    lastSweep = Date.now();
    await JobSlot.deleteMany({ at: trusted({ $lt: new Date(Date.now() - 120_000) }) });
  }

  return { takeSlot, sweep };
}

export type Throttle = ReturnType<typeof createThrottle>;
