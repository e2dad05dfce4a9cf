/**
 * The programme's branding: its name, logo and colours, set by an administrator and used by the
 * layout on every page. One small settings document (`host_settings`, `_id: 'branding'`), the logo
 * in GridFS (so that every instance serves it), and a stamped cache: pages read the branding with
 * one look-up of the cache's stamp, and a save on any instance renews it.
 */
import crypto from 'node:crypto';
import type { Response } from 'express';
import mongoose, { type Connection } from 'mongoose';
import type { Logger } from 'pino';
import { renewOnWrite, stampedCache } from '../stamped-cache.ts';

/** The largest logo accepted: a header logo is a few KB; pages must stay light. */
export const LOGO_MAX_BYTES = 200 * 1024;
const BUCKET = 'host_branding';
/** The stylesheet's own colours, used until an administrator chooses others. */
export const DEFAULT_COLOURS = { brand: '#4e6b1f', accent: '#0b5cad' } as const;
/** WCAG 2 AA for text: white text on the programme colour, links in the accent colour on white. */
export const MIN_CONTRAST = 4.5;

export interface LogoDoc {
  fileId: mongoose.Types.ObjectId;
  contentType: 'image/png' | 'image/jpeg';
  size: number;
  sha256: string;
}

export interface BrandingDoc {
  _id: string;
  name?: string;
  brand?: string;
  accent?: string;
  logo?: LogoDoc;
  updatedAt?: Date;
  updatedBy?: string;
}

/** What the layout uses: the name, and the addresses of the logo and of the colours' stylesheet (versioned, cached). */
export interface BrandingView {
  name: string;
  brand: string;
  accent: string;
  logo?: string;
  css?: string;
  custom: boolean;
}

/** Relative luminance of an sRGB colour (WCAG 2). */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}

/** Contrast ratio of a colour against white, as WCAG measures it (1 to 21). */
export function contrastWithWhite(hex: string): number {
  return 1.05 / (luminance(hex) + 0.05);
}

/** `#abc` or `#aabbcc` (any case, spaces around) as `#aabbcc`; anything else is undefined. */
export function normaliseHex(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  if (/^#[0-9a-f]{6}$/.test(v)) return v;
  if (/^#[0-9a-f]{3}$/.test(v)) return `#${[...v.slice(1)].map((c) => c + c).join('')}`;
  return undefined;
}

export function createBranding(connection: Connection, options: { logger: Logger; defaultName: string }) {
  const schema = new mongoose.Schema<BrandingDoc>(
    {
      _id: { type: String, required: true },
      name: { type: String, maxlength: 80 },
      brand: String,
      accent: String,
      logo: {
        type: new mongoose.Schema<LogoDoc>({ fileId: mongoose.Schema.Types.ObjectId, contentType: String, size: Number, sha256: String }, { _id: false }),
      },
      updatedAt: Date,
      updatedBy: String,
    },
    { versionKey: false, collection: 'host_settings' },
  );
  const cache = stampedCache(connection, 'host_branding', { logger: options.logger });
  renewOnWrite(schema as mongoose.Schema, cache.renew);
  const Settings = connection.model<BrandingDoc>('HostSettings', schema);
  const bucket = () => new mongoose.mongo.GridFSBucket(connection.db!, { bucketName: BUCKET });

  const defaults = (): BrandingView => ({ name: options.defaultName, ...DEFAULT_COLOURS, custom: false });

  async function load(): Promise<BrandingView> {
    // Only `_id` is indexed on FerretDB: the settings are read by their key (docs/architecture.md).
    const doc = await Settings.findById('branding').lean();
    if (!doc) return defaults();
    const brand = doc.brand ?? DEFAULT_COLOURS.brand;
    const accent = doc.accent ?? DEFAULT_COLOURS.accent;
    const colours = brand !== DEFAULT_COLOURS.brand || accent !== DEFAULT_COLOURS.accent;
    const version = crypto.createHash('sha256').update(`${brand}${accent}`).digest('hex').slice(0, 12);
    return {
      name: doc.name ?? options.defaultName,
      brand,
      accent,
      custom: true,
      ...(doc.logo ? { logo: `/branding/logo/${doc.logo.sha256.slice(0, 16)}` } : {}),
      ...(colours ? { css: `/branding/colours/${version}.css` } : {}),
    };
  }

  return {
    model: Settings,
    /** The branding as pages use it; the defaults when the database cannot be read (an error page must still show). */
    async view(): Promise<BrandingView> {
      try {
        return await cache.get('view', load);
      } catch {
        return defaults();
      }
    },
    async doc(): Promise<BrandingDoc | null> {
      return Settings.findById('branding').lean();
    },
    async save(input: { name: string; brand: string; accent: string; logo?: { data: Buffer; contentType: LogoDoc['contentType'] } | null }, by: string) {
      const before = await Settings.findById('branding').lean();
      let logo: LogoDoc | undefined | null = input.logo === null ? null : undefined;
      if (input.logo) {
        const fileId = new mongoose.Types.ObjectId();
        await new Promise<void>((resolve, reject) => {
          const up = bucket().openUploadStreamWithId(fileId, 'logo', { metadata: { contentType: input.logo!.contentType } });
          up.once('error', reject).once('finish', () => resolve());
          up.end(input.logo!.data);
        });
        logo = {
          fileId,
          contentType: input.logo.contentType,
          size: input.logo.data.length,
          sha256: crypto.createHash('sha256').update(input.logo.data).digest('hex'),
        };
      }
      const set: Record<string, unknown> = { name: input.name, brand: input.brand, accent: input.accent, updatedAt: new Date(), updatedBy: by };
      if (logo) set.logo = logo;
      await Settings.updateOne({ _id: 'branding' }, logo === null ? { $set: set, $unset: { logo: 1 } } : { $set: set }, { upsert: true });
      // The replaced logo's file is no longer served; removing it may fail (it is then only unused).
      if (before?.logo && (logo || logo === null))
        await bucket()
          .delete(before.logo.fileId)
          .catch(() => undefined);
      return { before, logoChanged: logo !== undefined };
    },
    /** Streams the current logo if its address (`sha` prefix) is the current one. */
    async sendLogo(sha: string, res: Response): Promise<boolean> {
      const doc = await Settings.findById('branding').lean();
      if (!doc?.logo || !doc.logo.sha256.startsWith(sha) || sha.length !== 16) return false;
      res.setHeader('Content-Type', doc.logo.contentType);
      res.setHeader('Content-Length', String(doc.logo.size));
      // The address changes with the file: browsers keep it for a year.
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      await new Promise<void>((resolve, reject) => {
        bucket().openDownloadStream(doc.logo!.fileId).once('error', reject).once('end', resolve).pipe(res);
      });
      return true;
    },
  };
}

export type Branding = ReturnType<typeof createBranding>;
