/**
 * The announcements plugin's contract: what other plugins may import. Nothing else in this folder
 * is public.
 */
import { defineEvent, defineService, type Role } from '../../src/index.ts';

/** Everyone, the holders of a role, or the participants of one edition (`editionId`). */
export type Audience = 'everyone' | Role | 'edition';

export interface AnnouncementView {
  id: string;
  title: string;
  body: string;
  audience: Audience;
  /** For an edition's announcements: the edition, and its title when it was posted. */
  editionId?: string | undefined;
  editionTitle?: string | undefined;
  /** An edition's announcement that also reaches the people waiting (waiting list, applications under review). */
  includeWaiting?: boolean | undefined;
  authorName: string;
  publishedAt: Date;
}

export interface AnnouncementsService {
  /**
   * Announcements this person may read, newest first: those for everyone and their roles, and (with
   * `id`, when the enrolment plugin runs) those to the editions they take part in.
   */
  visibleTo(user: { id?: string | undefined; roles: Role[] }, limit: number): Promise<AnnouncementView[]>;
}

export const Announcements = defineService<AnnouncementsService>('announcements.service');

/** Fired once an announcement is stored and visible. */
export const AnnouncementPublished = defineEvent<{ id: string; title: string; audience: Audience; authorId: string; editionId?: string | undefined }>(
  'announcements.announcement.published',
);
