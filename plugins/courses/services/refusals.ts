/**
 * The courses plugin's refusals that several services and routes raise alike: English for logs
 * and JSON clients, and the catalogue entry that pages show in the reader's language.
 */
import { notFound } from '../../../src/index.ts';

export const noSuchCourse = () => notFound('No such course.', { key: 'courses:errors.noSuchCourse' });
export const noSuchModule = () => notFound('No such module in this course.', { key: 'courses:errors.noSuchModule' });
export const noSuchItem = () => notFound('No such item in this course.', { key: 'courses:errors.noSuchItem' });
