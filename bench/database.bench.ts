/**
 * What each kind of database operation costs the embedded database (FerretDB on SQLite) and the
 * app, per operation, with 50 callers at once: the figures docs/performance.md reasons with when
 * it counts a request's round trips. And the same through Olive's keyed reads, which share one
 * query between the callers of a turn (src/core/keyed-reads.ts).
 *
 *   npm run bench:database                          # FerretDB's settings as Olive starts it
 *   npm run bench:database -- --pragma 'synchronous(full)' --pragma 'cache_size(-65536)'
 *   npm run bench:database -- --smoke               # a tiny size, to check that it runs
 *
 * No ceiling here: these are the parts the web benchmark's ratios are made of, read side by side.
 */
import fs from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { startEmbeddedDatabase } from '../src/core/embedded-db.ts';
import { findByKeys } from '../src/core/keyed-reads.ts';
import { flag, printTable, writeResults } from './report.ts';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const pragmas = args.flatMap((a, i) => (args[i - 1] === '--pragma' ? [a] : []));
/** Operations per measure (reads; writes and batches fewer, see below). */
const N = smoke ? 200 : 4000;
const CALLERS = 50;
const DOCUMENTS = smoke ? 2000 : 20000;

/** CPU time a process has used so far, in seconds (Linux). */
const cpuOf = (pid: number) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const dataDir = path.join(import.meta.dirname, '..', '.tmp', 'bench', `database-${process.pid}`);
const database = await startEmbeddedDatabase({ dataDir, pragmas });
const connection = await mongoose.createConnection(database.uri, { dbName: 'bench_database', maxPoolSize: 100 }).asPromise();
const Doc = connection.model<{ _id: string; n: number }>('doc', new mongoose.Schema({ _id: String, n: Number }, { versionKey: false }));
const rows = [['operation', 'per second', 'database CPU, ms per operation', 'app CPU, ms per operation']];
const results: Record<string, { perSecond: number; databaseMs: number; appMs: number }> = {};

try {
  const record = (n: number) => ({ _id: `k${n}`, learnerId: 'l'.repeat(24), courseId: 'c'.repeat(24), at: new Date(), n });
  for (let i = 0; i < DOCUMENTS; i += 1000) await Doc.collection.insertMany(Array.from({ length: 1000 }, (_, j) => record(i + j)) as never);
  const someKey = () => `k${Math.floor(Math.random() * DOCUMENTS)}`;
  let fresh = 0;
  const newRecord = () => ({ ...record(0), _id: `new${fresh++}` });

  /** `count` operations by CALLERS callers at once; CPU per operation of the database and of this process. */
  async function measure(name: string, count: number, op: () => Promise<unknown>) {
    const db0 = cpuOf(database.process.pid!);
    const app0 = ownCpu();
    const t0 = performance.now();
    let started = 0;
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (started++ < count) await op();
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const r = { perSecond: count / seconds, databaseMs: ((cpuOf(database.process.pid!) - db0) * 1000) / count, appMs: ((ownCpu() - app0) * 1000) / count };
    results[name] = r;
    rows.push([name, r.perSecond.toFixed(0), r.databaseMs.toFixed(2), r.appMs.toFixed(2)]);
    process.stderr.write(`${name}: ${r.perSecond.toFixed(0)}/s\n`);
  }

  const keys = (n: number) => Array.from({ length: n }, someKey);
  await measure('ping (the protocol alone)', N, () => connection.db!.command({ ping: 1 }));
  await measure('find by _id, one key', N, () => Doc.collection.find({ _id: someKey() } as never).toArray());
  await measure('find by _id $in, 10 keys', N / 10, () => Doc.collection.find({ _id: { $in: keys(10) } } as never).toArray());
  await measure('find by _id $in, 50 keys', N / 50, () => Doc.collection.find({ _id: { $in: keys(50) } } as never).toArray());
  await measure('findByKeys, one key (shared per turn)', N, () => findByKeys(Doc, [someKey()]));
  await measure('insert one', N / 2, () => Doc.collection.insertOne(newRecord() as never));
  await measure('insertMany, 10 documents', N / 20, () => Doc.collection.insertMany(Array.from({ length: 10 }, newRecord) as never));
  await measure('update one by _id', N / 2, () => Doc.collection.updateOne({ _id: someKey() } as never, { $set: { at: new Date() } }));

  console.log(
    `\nOlive database benchmark: FerretDB (SQLite${pragmas.length ? `, ${pragmas.join(', ')}` : ', Olive’s settings'}), ${CALLERS} callers at once${smoke ? ' (smoke: figures not meaningful)' : ''}\n`,
  );
  printTable(rows, 1);
  console.log(`\nresults: ${writeResults('database', { pragmas, callers: CALLERS, results }, flag('--out'))}`);
} finally {
  await connection.close();
  await database.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
