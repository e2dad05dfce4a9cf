/**
 * What "nothing recorded" is checked against: every record of learning the courses plugin keeps.
 */
import type mongoose from 'mongoose';

const PROGRESS_COLLECTIONS = ['courses_item_progress', 'courses_module_progress', 'courses_course_completion', 'courses_quiz_attempt'];

/** Documents in each progress collection, by collection name. */
export async function progressRecords(db: mongoose.mongo.Db): Promise<Record<string, number>> {
  return Object.fromEntries(await Promise.all(PROGRESS_COLLECTIONS.map(async (name) => [name, await db.collection(name).countDocuments()] as const)));
}
