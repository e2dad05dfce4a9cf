import mongoose from 'mongoose';
import { UN_LANGUAGES } from '../../../src/index.ts';
import type { StoredText } from '../contract.ts';

/**
 * Whether a value is a text of a course's content as stored (see `StoredText`): a plain string (from
 * before texts had languages), or strings keyed by UN language codes; each at most `max` characters.
 */
export function isStoredText(value: unknown, max: number): value is StoredText {
  if (typeof value === 'string') return value.length <= max;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.entries(value).every(([lang, text]) => (UN_LANGUAGES as readonly string[]).includes(lang) && typeof text === 'string' && text.length <= max);
}

/**
 * A schema path for a text per language. Mixed, so that documents holding a plain string still
 * read; checked here as the edge checks it (languages and lengths), since Mixed checks nothing.
 */
export function textPath(max: number, options: { required?: boolean; default?: StoredText } = {}) {
  return {
    type: mongoose.Schema.Types.Mixed,
    ...(options.required ? { required: true } : {}),
    ...(options.default !== undefined ? { default: options.default } : {}),
    validate: {
      validator: (v: unknown) => v === undefined || v === null || isStoredText(v, max),
      message: `A text per UN language, each at most ${max} characters.`,
    },
  };
}
