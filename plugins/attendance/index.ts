import { definePlugin } from '../../src/index.ts';
import { CompletionRules } from '../certificates/contract.ts';
import { CourseCatalog } from '../courses/contract.ts';
import { EditionManageLinks, EnrolmentDirectory } from '../enrolment/contract.ts';
import { attendanceConfigSchema } from './config.ts';
import { AttendanceRecords } from './contract.ts';
import {
  importSchema,
  markSchema,
  sessionSchema,
  settingSchema,
  type ImportDoc,
  type MarkDoc,
  type SessionDoc,
  type SettingDoc,
} from './models/attendance.model.ts';
import { mountAttendanceRoutes } from './routes/attendance.routes.ts';
import { createAttendanceService } from './services/attendance.service.ts';
import { seedAttendance } from './seed.ts';

/**
 * Attendance for editions that take place (the Fellowship at Holmenkollen, a regional training):
 * the edition's sessions, who was present at each, the edition's completion rule ("all sessions",
 * or "at least N %"), a printed sign-in sheet and CSV import and export. People who qualify by
 * the rule have completed the edition for the certificates plugin (`CompletionRules`).
 */
export default definePlugin({
  name: 'attendance',
  version: '1.0.0',
  description: 'Sessions and attendance of in-person editions, and completion by attendance.',
  config: attendanceConfigSchema,
  requires: [EnrolmentDirectory],
  optional: [CourseCatalog],

  register(ctx) {
    const Session = ctx.model<SessionDoc>('session', sessionSchema);
    const Mark = ctx.model<MarkDoc>('mark', markSchema);
    const Setting = ctx.model<SettingDoc>('setting', settingSchema);
    const Import = ctx.model<ImportDoc>('import', importSchema);
    const service = createAttendanceService(ctx, { Session, Mark, Setting });

    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    mountAttendanceRoutes(ctx, service, Import);

    ctx.provide(AttendanceRecords, { attendanceOf: service.attendanceOf });
    ctx.contribute(CompletionRules, { id: 'attendance', completedOf: service.completedOf });
    // Dated editions have sessions (in person or live online); a self-paced one has none.
    ctx.contribute(EditionManageLinks, {
      id: 'attendance',
      order: 10,
      label: 'attendance:manageLink',
      href: (edition) => (edition.selfPaced ? null : `/attendance/editions/${edition.id}`),
    });

    return {
      async seed(seed) {
        await seedAttendance(seed, ctx, service, Mark);
      },
    };
  },
});
