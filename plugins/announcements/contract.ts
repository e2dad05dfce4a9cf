/**
 * The announcements plugin's contract: what other plugins may import. Nothing else in this folder
 * is public.
 */
import { defineEvent, defineService, type Role } from '../../src/index.ts';

export type Audience = 'everyone' | Role;

export interface AnnouncementView {
  id: string;
  title: string;
  body: string;
  audience: Audience;
  authorName: string;
  publishedAt: Date;
}

export interface AnnouncementsService {
  /** Announcements this person may read, newest first. */
  visibleTo(user: { roles: Role[] }, limit: number): Promise<AnnouncementView[]>;
}

export const Announcements = defineService<AnnouncementsService>('announcements.service');

/** Fired once an announcement is stored and visible. */
export const AnnouncementPublished = defineEvent<{ id: string; title: string; audience: Audience; authorId: string }>('announcements.announcement.published');
