/**
 * The demo programme's attendance: the in-person edition that has taken place gets its sessions
 * (one per day), everyone enrolled ticked present but on the days the fixture says they missed,
 * and its completion rule. Idempotent: ticks and rules already there are left as they are.
 */
import type { Model } from 'mongoose';
import { insertOnce, Users, type PluginContext, type SeedContext } from '../../src/index.ts';
import { CourseCatalog } from '../courses/contract.ts';
import { EnrolmentDirectory } from '../enrolment/contract.ts';
import type { AttendanceConfig } from './config.ts';
import { markKey, type MarkDoc, type RuleKind } from './models/attendance.model.ts';
import type { AttendanceService } from './services/attendance.service.ts';

interface AttendanceFixture {
  staff: string;
  editions: { course: string; place: string; rule: { rule: RuleKind; percent: number }; absent: Record<string, number[]> }[];
}

export async function seedAttendance(seed: SeedContext, ctx: PluginContext<AttendanceConfig>, service: AttendanceService, Mark: Model<MarkDoc>) {
  const fixture = await seed.readFixture<AttendanceFixture>('attendance.json');
  const staff = await ctx.get(Users).findByEmail(fixture.staff);
  if (!staff) throw new Error(`attendance fixture: no demo account ${fixture.staff}`);
  const catalog = ctx.getOptional(CourseCatalog);
  if (!catalog) return;
  for (const entry of fixture.editions) {
    const course = await catalog.findBySlug(entry.course);
    if (!course) throw new Error(`attendance fixture: no course ${entry.course}`);
    const edition = (await ctx.get(EnrolmentDirectory).editionsOfCourse(course.id)).find((e) => e.place === entry.place && !e.selfPaced);
    if (!edition) throw new Error(`attendance fixture: no edition of ${entry.course} at ${entry.place}`);
    const before = await service.sessionsOf(edition);
    const created = !(await service.hasRule(edition.id));
    if (created) await service.setRule(edition.id, entry.rule, staff.id);
    const people = await service.participants(edition);
    const at = new Date();
    for (const person of people) {
      const missed = new Set(entry.absent[person.email] ?? []);
      for (const [i, session] of before.active.entries()) {
        await insertOnce(Mark, {
          _id: markKey(person.enrolmentId, session._id),
          editionId: edition.id,
          enrolmentId: person.enrolmentId,
          sessionId: session._id,
          present: !missed.has(i + 1),
          byUserId: staff.id,
          at,
        });
      }
    }
  }
}
