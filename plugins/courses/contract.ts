/**
 * The courses plugin's contract: what other plugins (enrolment, certificates) may import.
 */
import { defineEvent, defineExtensionPoint, defineService, type SessionUser } from '../../src/index.ts';

export type CourseStatus = 'draft' | 'published' | 'archived';

/** Text in one or more languages, keyed by language code ('en', 'fr', 'ar', ...). */
export type LocalizedText = Record<string, string>;

/**
 * A text of a course's content as stored (module titles and introductions, item titles and
 * bodies, quiz questions, options and feedback): per language, or, in documents from before texts
 * had languages, one plain string, shown in every language as written in the course's first
 * language. docs/architecture.md, "Languages".
 */
export type StoredText = string | LocalizedText;

export interface CourseSummary {
  id: string;
  slug: string;
  title: LocalizedText;
  summary: LocalizedText;
  /** The course's languages; the first is its main language. */
  languages: string[];
  hours: number;
  durationWeeks?: number | undefined;
  status: CourseStatus;
  trainerIds: string[];
  /** The optional cover image, served at `/courses/<slug>/cover`; alt text per course language. */
  cover?: { sha256: string; width: number; height: number; contentType: string; alt: LocalizedText } | undefined;
}

export interface ModuleSummary {
  id: string;
  courseId: string;
  /** Per language (an old plain-string title is given as the course's first language's). */
  title: LocalizedText;
  position: number;
  /** Required modules count towards course completion. */
  required: boolean;
}

export interface ItemSummary {
  id: string;
  moduleId: string;
  type: 'lesson' | 'file' | 'quiz' | 'link';
  /** Per language, as ModuleSummary's. */
  title: LocalizedText;
}

export interface CourseCatalogService {
  findById(id: string): Promise<CourseSummary | null>;
  findBySlug(slug: string): Promise<CourseSummary | null>;
  listPublished(): Promise<CourseSummary[]>;
  modules(courseId: string): Promise<ModuleSummary[]>;
  /** The course's items, module by module in order (demo data, imports, reports). */
  items(courseId: string): Promise<ItemSummary[]>;
}

export const CourseCatalog = defineService<CourseCatalogService>('courses.catalog');

/** Where a learner stands in a course, as the progress records say. */
export interface LearnerProgress {
  courseId: string;
  editionId: string;
  completedModuleIds: string[];
  requiredModules: number;
  requiredCompleted: number;
  /** The items of the counted modules (required ones with content; all, when none is required). */
  requiredItems: number;
  requiredItemsDone: number;
  /** 0..100: the share of required items done (100 only once the course is complete). */
  percent: number;
  completedAt?: Date | undefined;
  lastActivityAt?: Date | undefined;
}

export interface ProgressService {
  progressOf(learnerId: string, courseId: string, editionId: string): Promise<LearnerProgress>;
  /** Everyone's progress in one edition of a course (rosters, reports), keyed by learner id; one read per collection. */
  editionProgress(courseId: string, editionId: string): Promise<Map<string, LearnerProgress>>;
  /**
   * Records an item as completed, exactly as if the learner had marked it done (events included).
   * For demo data and imports from another platform; an unknown item is a 404 HttpError.
   */
  recordItemDone(input: { learnerId: string; courseId: string; editionId: string; itemId: string }): Promise<void>;
  /**
   * Carries a learner's progress from one edition of a course to another (when staff move them):
   * completed items and quiz attempts are copied, then modules and the course are re-checked in the
   * new edition. Idempotent; the old edition's records stay as they were.
   */
  carryOver(learnerId: string, courseId: string, fromEditionId: string, toEditionId: string): Promise<void>;
}

export const CourseProgress = defineService<ProgressService>('courses.progress');

/**
 * The decision of an access provider for one person and one course.
 * `editionId` names the run of the course the person takes (progress is recorded per edition).
 */
export type AccessDecision =
  /**
   * `preview`: sees everything, nothing recorded (e.g. an edition's own trainers).
   * `opensAt`: the material is not open yet (the edition starts later): the outline says when it
   * opens, its pages refuse until then. `readOnly`: the edition is closed; its material stays
   * readable for its participants, but nothing more is recorded (no progress, no quiz attempts).
   */
  | {
      allowed: true;
      editionId: string;
      preview?: boolean;
      opensAt?: Date | undefined;
      readOnly?: boolean | undefined;
      /**
       * The day the course's due dates count from for this person: the edition's start, or, in a
       * self-paced edition, the day they were enrolled. Without it, no due dates are shown.
       */
      dueFrom?: Date | undefined;
    }
  | {
      allowed: false;
      reason: string;
      /** Where the person can do something about it (e.g. enrol). */
      href?: string;
      /** The link's words, in the reader's language: what the person does there ("See the editions and enrol"). */
      action?: string;
    };

/**
 * Who may take a course, and in which edition. The enrolment plugin contributes a provider; with no
 * provider, any signed-in person may take a published course in its always-open edition ('open').
 * Providers are asked in boot order; the first that returns a decision (not null) decides.
 * The course's trainers, staff and admins always see a course, as a preview (nothing recorded).
 */
export interface LearningAccessProvider {
  /** `t` translates the provider's own messages into the reader's language (`t('enrolment:key')`). */
  decide(user: SessionUser, course: CourseSummary, t: Translate): Promise<AccessDecision | null>;
  /**
   * The courses this person is enrolled in, each with its edition, if the provider keeps such a
   * list: the home page then lists the learner's courses from it instead of searching all progress
   * records. `decide` still has the last word on each.
   */
  coursesOf?(user: SessionUser): Promise<{ courseId: string; editionId: string }[]>;
}

/** The request's translation function, as handed to providers. */
export type Translate = (key: string, options?: Record<string, unknown>) => string;

export const LearningAccess = defineExtensionPoint<LearningAccessProvider>('courses.learningAccess');

/**
 * What a completed course leads to, said on its page under "You completed this course" (the
 * certificates plugin says where the learner's certificate is, or why it is not there yet). Every
 * contributor is asked, in boot order; each gives a note or null.
 */
export interface CompletionNote {
  /** In the reader's language. */
  text: string;
  href?: string;
  /** The link's words, in the reader's language. */
  action?: string;
}
export interface CompletionNotesProvider {
  note(input: { learnerId: string; course: CourseSummary; editionId: string; t: Translate; language: string }): Promise<CompletionNote | null>;
}
export const CompletionNotes = defineExtensionPoint<CompletionNotesProvider>('courses.completionNotes');

/**
 * Due dates: a trainer may give a module or a quiz one, as a number of days after the learner's
 * start (`AccessDecision.dueFrom`). A module is done when it is completed, a quiz when it is first
 * submitted; a due date is a whole day in UTC, and done on that day is on time.
 * - upcoming / today / overdue: not done yet (before the day, on it, after it);
 * - onTime / late: done (by the end of the day, or after it).
 */
export type DueState = 'upcoming' | 'today' | 'overdue' | 'onTime' | 'late';
export const DUE_STATES: readonly DueState[] = ['upcoming', 'today', 'overdue', 'onTime', 'late'];

export interface DueItem {
  /** The module's or the quiz item's id. */
  id: string;
  kind: 'module' | 'quiz';
  /** The module the quiz is in (a module's own id for a module). */
  moduleId: string;
  /** Per language, as ModuleSummary's. */
  title: LocalizedText;
  /** Days after the start, as the trainer set it. */
  days: number;
  /** The due day (midnight UTC). */
  dueOn: Date;
  state: DueState;
  /** When it was done (completed, or first submitted), if it was. */
  doneAt?: Date | undefined;
}

export interface DueStanding {
  /** In the course's order. */
  items: DueItem[];
  /** How many items are in each state. */
  counts: Record<DueState, number>;
}

export interface DueDatesService {
  /** One learner's due dates in a course, counted from `dueFrom`. */
  standingOf(learnerId: string, courseId: string, editionId: string, dueFrom: Date): Promise<DueStanding>;
  /**
   * Everyone's due dates in one edition of a course (the roster), keyed by learner id: one read
   * per progress collection, whatever the number of learners. Learners without a start are left out.
   */
  editionDueDates(courseId: string, editionId: string, learners: { learnerId: string; dueFrom: Date }[]): Promise<Map<string, DueStanding>>;
  /** Whether the course has any due date at all (a roster shows the column only then). */
  hasDueDates(courseId: string): Promise<boolean>;
}

export const CourseDueDates = defineService<DueDatesService>('courses.dueDates');

/** The kinds of runs a course is offered in, as the catalogue's filter names them. */
export const OFFERING_KINDS = ['selfPaced', 'inPerson', 'online'] as const;
export type OfferingKind = (typeof OFFERING_KINDS)[number];

/**
 * What the catalogue can be narrowed by beyond the courses' own texts: the kind of run (self-paced,
 * in person, online) and the days it takes place on (`from` and `to` are UTC midnights, both days
 * included; either may be absent).
 */
export interface OfferingFilter {
  kind?: OfferingKind | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

/**
 * Who knows how courses are run (the enrolment plugin, whose editions they are) says which courses
 * have a run that passes the filter. The first provider decides; with none, every course is taken
 * in its always-open, self-paced edition: self-paced, and open at any date.
 */
export interface CourseOfferingsProvider {
  /** Of these courses, the ids of those with at least one run that passes every part of `filter`. */
  matching(courseIds: string[], filter: OfferingFilter): Promise<Set<string>>;
}
export const CourseOfferings = defineExtensionPoint<CourseOfferingsProvider>('courses.offerings');

/** The edition id used when no access provider decides (self-paced, open to everyone signed in). */
export const OPEN_EDITION = 'open';

export interface ModuleCompletedEvent {
  learnerId: string;
  courseId: string;
  editionId: string;
  moduleId: string;
  completedAt: Date;
}
export interface CourseCompletedEvent {
  learnerId: string;
  courseId: string;
  editionId: string;
  completedAt: Date;
}
export interface QuizSubmittedEvent {
  learnerId: string;
  courseId: string;
  editionId: string;
  itemId: string;
  score: number;
  passed: boolean;
  attempt: number;
}

/** Fired once per learner, edition and module, when the module's last requirement is met. */
export const ModuleCompleted = defineEvent<ModuleCompletedEvent>('courses.module.completed');
/** Fired exactly once per learner and edition, even when the last modules complete concurrently. */
export const CourseCompleted = defineEvent<CourseCompletedEvent>('courses.course.completed');
export const QuizSubmitted = defineEvent<QuizSubmittedEvent>('courses.quiz.submitted');
