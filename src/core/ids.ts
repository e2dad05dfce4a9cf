/** Record ids in URLs and forms: MongoDB ObjectIds written as 24 hexadecimal digits. */
import mongoose from 'mongoose';
import { z } from 'zod';

export const OBJECT_ID_PATTERN = /^[0-9a-f]{24}$/i;

export const isObjectId = (value: unknown): value is string => typeof value === 'string' && OBJECT_ID_PATTERN.test(value);

/** The ObjectId a text names, or null (never a throw: the text comes from outside). */
export const toObjectId = (value: unknown): mongoose.Types.ObjectId | null => (isObjectId(value) ? new mongoose.Types.ObjectId(value) : null);

/** A form or query field holding an id; `message` is what the form shows when it is not one. */
export const objectIdSchema = (message?: string) => z.string().regex(OBJECT_ID_PATTERN, message);
