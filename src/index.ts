/**
 * Olive's public API: everything a plugin author or an embedding application needs. Plugins import
 * from here (and from other plugins' `contract.ts`), never from `src/core/*` directly.
 */
export { createApp, type CreateAppOptions, type OliveApp, type OliveRuntime, type BootReport } from './core/app.ts';
export {
  definePlugin,
  type PluginDefinition,
  type PluginContext,
  type PluginLifecycle,
  type ModelCache,
  type SeedContext,
  type PluginRouter,
  type PluginJobs,
  type Handler,
  type HostInfo,
  type NavEntry,
  type SignInMethod,
  type DashboardPanel,
} from './core/plugin.ts';
export {
  defineService,
  defineEvent,
  defineExtensionPoint,
  overrideService,
  type ServiceOverride,
  type ServiceRef,
  type EventRef,
  type ExtensionPoint,
} from './core/refs.ts';
export { allow, hasRole, ROLES, type Role, type SessionUser, type AccessPolicy } from './core/access.ts';
export {
  Users,
  UserCreated,
  UserSignedIn,
  UserRolesChanged,
  Navigation,
  SignInMethods,
  DashboardPanels,
  MailTopics,
  type MailTopic,
  type UsersService,
  type NewUser,
} from './core/host-contract.ts';
export { RetryLater, PermanentFailure, type RunningJob, type QueueOptions, type EnqueueOptions, type JobSummary } from './core/jobs/jobs.service.ts';
export { type MailService, type OutgoingMail, type MailContent, type MailRecipient } from './core/mail/mail.service.ts';
export { type MailAttachmentRef } from './core/mail/mail.models.ts';
export {
  HttpError,
  OliveError,
  errorMessage,
  type ErrorText,
  type Translate,
  badRequest,
  unauthorized,
  forbidden,
  notFound,
  conflict,
  isDuplicateKey,
  isDatabaseUnavailable,
} from './core/errors.ts';
export { parseInput, checkInput, fieldErrors, invalidFields, englishT, refusalFor, uploadErrorText, wantsJson } from './core/http.ts';
export { form, respond, type FormRoute, type FormFailure, type Answer } from './core/forms.ts';
export { safeReturnTo } from './core/auth/return-to.ts';
export { formatBytes } from './core/views.ts';
export { formatDate, formatDateTime, formatList, formatNumber, nameCollator, searchFold, matchesSearch } from './core/formats.ts';
export { safeFileName } from './core/file-names.ts';
export { parseDay } from './core/days.ts';
export { toCsv, sendCsv, spreadsheetCell, type CsvCell } from './core/csv.ts';
export { UN_LANGUAGES, localized, localizedText, textDirection, type Multilingual, type ShownText, type UnLanguage } from './core/languages.ts';
export { OBJECT_ID_PATTERN, isObjectId, toObjectId, objectIdSchema } from './core/ids.ts';
export { loadHostConfig, type HostConfig } from './core/config.ts';
export { startEmbeddedDatabase, ensureFerretdbBinary, type EmbeddedDatabase } from './core/embedded-db.ts';
export { defineOliveConfig, type OliveConfigFile } from './core/config-file.ts';
export { signInPerson, signOutPerson, type SignInOptions } from './core/auth/sign-in.ts';
export { type UserProfileChanges } from './core/host-contract.ts';
export { renderFragment } from './core/pages.routes.ts';
export { readEachOncePerPage, readOncePerPage } from './core/page-reads.ts';
export { findByKeys, findNumbered } from './core/keyed-reads.ts';
export { insertOnce } from './core/insert-once.ts';
export { upsertOne } from './core/upsert.ts';
export { sharedRateLimit, addressKey, type SharedRateLimitOptions } from './core/rate-limit-store.ts';
export { writeThenRenew } from './core/stamped-cache.ts';
