import type { Model, MongooseUpdateQueryOptions, QueryFilter, UpdateQuery } from 'mongoose';
import { isDuplicateKey } from './errors.ts';

/**
 * An upsert by a unique key that two requests may make at the same moment (a person confirming
 * their name twice, two sign-ins writing the same record). MongoDB retries such an upsert itself
 * (from 4.2, for an equality on the unique key); FerretDB answers the second writer with a
 * duplicate key error. Here the second writer tries once more, finds the document the first one
 * made, and updates it: both succeed, one document exists.
 */
export async function upsertOne<T>(model: Model<T>, filter: QueryFilter<T>, update: UpdateQuery<T>, options: MongooseUpdateQueryOptions<T> = {}) {
  const write = () => model.updateOne(filter, update, { ...options, upsert: true });
  try {
    return await write();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return write();
  }
}
