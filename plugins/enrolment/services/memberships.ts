import mongoose, { type Model } from 'mongoose';
import { findByKeys, findNumbered, isDuplicateKey, readOncePerPage } from '../../../src/index.ts';
import type { EnrolmentDoc, MembershipDoc } from '../models/enrolment.model.ts';

/** Tries to claim a free number before giving up: only reached if that many writers race. */
const MAX_TRIES = 50;
/** Written once every enrolment made before lists existed has its entries. */
const BACKFILLED = '~backfilled';

export type Owner = { userId: string } | { email: string };

const ownerKey = (owner: Owner) => ('userId' in owner ? `u:${owner.userId}` : `e:${owner.email}`);
const entryId = (owner: string, n: number) => `${owner}:${n}`;

/**
 * Each person's enrolments, by key (see MembershipDoc): per account and per e-mail address.
 * `enrolmentsOf` answers "which enrolments does this person have" with look-ups by `_id` only.
 */
export function createMemberships(Membership: Model<MembershipDoc>, Enrolment: Model<EnrolmentDoc>) {
  const entries = (owner: string) => findNumbered(Membership, (n) => entryId(owner, n));

  /** Adds the enrolment to the owner's list unless it is there already (idempotent). */
  async function add(owner: Owner, enrolment: Pick<EnrolmentDoc, '_id' | 'editionId' | 'courseId'>): Promise<void> {
    const key = ownerKey(owner);
    const enrolmentId = enrolment._id.toString();
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const list = await entries(key);
      if (list.some((e) => e.enrolmentId === enrolmentId)) return;
      const n = list.length + 1;
      try {
        await Membership.create({
          _id: entryId(key, n),
          owner: key,
          n,
          enrolmentId,
          editionId: enrolment.editionId,
          courseId: enrolment.courseId,
          createdAt: new Date(),
        });
        return;
      } catch (err) {
        // Someone else took that number meanwhile: read again and take the next.
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new Error(`could not add enrolment ${enrolmentId} to the list of ${key}: too many concurrent writers`);
  }

  /**
   * The owner's enrolments (optionally those in one course), each once. Entries whose enrolment
   * does not exist or names someone else are skipped: they are what an interrupted write leaves.
   */
  async function enrolmentsOf(owner: Owner, courseId?: string): Promise<EnrolmentDoc[]> {
    // Every panel of the home page and the access decision ask: read once per page.
    const all = await readOncePerPage(`enrolment.of:${ownerKey(owner)}`, async () => {
      // Each enrolment once, even if a race listed it twice.
      const ids = [...new Set((await entries(ownerKey(owner))).map((e) => e.enrolmentId))].filter((id) => mongoose.isObjectIdOrHexString(id));
      const docs = await findByKeys(
        Enrolment,
        ids.map((id) => new mongoose.Types.ObjectId(id)),
      );
      return docs.filter((d) => ('userId' in owner ? d.userId === owner.userId : d.email === owner.email));
    });
    return all.filter((e) => !courseId || e.courseId === courseId);
  }

  /**
   * Gives every enrolment made before the lists existed its entries, once per database. In bulk
   * (two reads, then inserts), as it runs at start before anyone is served: one `add` per
   * enrolment would take minutes at a few thousand. Entries are numbered in enrolment order, so
   * instances starting together write the same documents; any insert that collides with a
   * different entry is redone with `add`, which is idempotent.
   */
  async function backfill(): Promise<number> {
    if (await Membership.exists({ _id: BACKFILLED })) return 0;
    const lists = new Map<string, Set<string>>();
    for (const m of await Membership.find({}, { owner: 1, enrolmentId: 1 }).lean()) {
      lists.set(m.owner, (lists.get(m.owner) ?? new Set()).add(m.enrolmentId));
    }
    const enrolments = await Enrolment.find({}, { email: 1, userId: 1, editionId: 1, courseId: 1 }).sort({ _id: 1 }).lean();
    const missing: { owner: Owner; enrolment: (typeof enrolments)[number]; doc: MembershipDoc }[] = [];
    const now = new Date();
    for (const e of enrolments) {
      for (const owner of [{ email: e.email }, ...(e.userId ? [{ userId: e.userId }] : [])] as Owner[]) {
        const key = ownerKey(owner);
        const list = lists.get(key) ?? new Set<string>();
        lists.set(key, list);
        if (list.has(e._id.toString())) continue;
        list.add(e._id.toString());
        missing.push({
          owner,
          enrolment: e,
          doc: {
            _id: entryId(key, list.size),
            owner: key,
            n: list.size,
            enrolmentId: e._id.toString(),
            editionId: e.editionId,
            courseId: e.courseId,
            createdAt: now,
          },
        });
      }
    }
    for (let i = 0; i < missing.length; i += 500) {
      const chunk = missing.slice(i, i + 500);
      try {
        await Membership.insertMany(
          chunk.map((m) => m.doc),
          { ordered: false },
        );
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        for (const m of chunk) await add(m.owner, m.enrolment);
      }
    }
    try {
      await Membership.create({ _id: BACKFILLED, owner: BACKFILLED, n: 0, enrolmentId: '-', editionId: '-', courseId: '-', createdAt: new Date() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    return missing.length;
  }

  return { add, enrolmentsOf, backfill };
}

export type Memberships = ReturnType<typeof createMemberships>;
