/**
 * The composition root: which plugins this deployment runs, in which order, with which settings.
 * The host never imports plugins; this file does. Point OLIVE_CONFIG elsewhere to run another set.
 */
import { defineOliveConfig } from './src/index.ts';
import announcements from './plugins/announcements/index.ts';
import attendance from './plugins/attendance/index.ts';
import courses from './plugins/courses/index.ts';
import certificates from './plugins/certificates/index.ts';
import enrolment from './plugins/enrolment/index.ts';
import questions from './plugins/questions/index.ts';
import sso from './plugins/sso-saml/index.ts';

export default defineOliveConfig({
  plugins: [courses, enrolment, certificates, attendance, announcements, questions, sso],
  pluginConfig: {
    announcements: { pageSize: 20, panelSize: 3 },
    courses: { maxUploadMb: 100 },
    enrolment: { maxImportMb: 5, maxImportRows: 5000 },
    certificates: { trainersMayIssue: false, maxImageKb: 512, verifyPerMinute: 30 },
    // Identity providers: none by default (the demo uses local accounts); see docs/sso.md.
    'sso-saml': { configFile: process.env.OLIVE_SAML_CONFIG },
  },
});
