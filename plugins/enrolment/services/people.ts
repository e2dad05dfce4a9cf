/**
 * People's profiles (the `Person` collection, keyed by normalised e-mail): what pages show of
 * them and the profile answers a learner gives when applying.
 */
import mongoose, { type Model } from 'mongoose';
import { isDuplicateKey, upsertOne } from '../../../src/index.ts';
import type { PersonDoc } from '../models/person.model.ts';

/** The fields of a profile a person or staff fill in (not its key, account or dates). */
export type ProfileFields = Omit<PersonDoc, '_id' | 'userId' | 'createdAt' | 'updatedAt'>;

export function createPeople(Person: Model<PersonDoc>) {
  function personOf(email: string): Promise<PersonDoc | null> {
    return Person.findById(email).lean();
  }

  /** The profiles of these addresses (those that have one), in one query. */
  function peopleOf(emails: readonly string[]): Promise<PersonDoc[]> {
    return Person.find({ _id: mongoose.trusted({ $in: emails }) }).lean();
  }

  /** Which of these addresses have a profile. */
  async function profiled(emails: readonly string[]): Promise<Set<string>> {
    return new Set((await Person.find({ _id: mongoose.trusted({ $in: emails }) }, { _id: 1 }).lean()).map((p) => p._id));
  }

  /** The answers of an applicant, over what their profile said (made if they had none). */
  async function saveApplicantProfile(email: string, userId: string, fields: Omit<ProfileFields, 'givenName' | 'familyName'>): Promise<void> {
    await upsertOne(Person, { _id: email }, { $set: { userId, ...fields } });
  }

  /** Adds profiles; one made meanwhile (a second instance seeding, someone importing) stands as it is. */
  async function addProfiles(profiles: (ProfileFields & { _id: string; userId?: string })[]): Promise<void> {
    if (!profiles.length) return;
    try {
      await Person.insertMany(profiles, { ordered: false });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  return { personOf, peopleOf, profiled, saveApplicantProfile, addProfiles };
}
