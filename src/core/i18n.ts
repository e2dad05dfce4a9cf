import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import i18next, { type i18n, type TFunction } from 'i18next';
import { formatBytes, formatDate, formatDateTime, formatList, formatNumber } from './formats.ts';

/**
 * The interface's languages: the six official UN languages, in the UN's order, each named in
 * itself (the switcher shows these names). Every catalogue holds every key of English (test/catalogues.test.ts).
 */
export const LANGUAGES: Record<string, { name: string; dir: 'ltr' | 'rtl' }> = {
  ar: { name: 'العربية', dir: 'rtl' },
  zh: { name: '中文', dir: 'ltr' },
  en: { name: 'English', dir: 'ltr' },
  fr: { name: 'Français', dir: 'ltr' },
  ru: { name: 'Русский', dir: 'ltr' },
  es: { name: 'Español', dir: 'ltr' },
};

export const LANGUAGE_COOKIE = 'olive.lang';

/**
 * The pseudo-language (PSEUDO_LOCALE=true, never in production): every catalogue text in English,
 * marked ⟦…⟧ and with accents, so that text on a page without the marks is plainly not from a
 * catalogue (a literal in a view or in code), and text too long for its place shows. Chosen with
 * the language cookie (`olive.lang=qps`); the switcher does not offer it.
 */
export const PSEUDO_LANGUAGE = 'qps';

const PSEUDO_LETTERS: Record<string, string> = { a: 'á', e: 'é', i: 'í', o: 'ö', u: 'ü', c: 'ç', n: 'ñ', A: 'Å', E: 'É', I: 'Î', O: 'Ø', U: 'Ü' };

/** English marked as pseudo-language; placeholders, nesting and markup stay as they are. */
export function pseudoText(text: string): string {
  const parts = text.split(/(\{\{[^}]*\}\}|\$t\([^)]*\)|<[^>]*>)/);
  return `⟦${parts.map((p, i) => (i % 2 ? p : p.replace(/[a-zA-Z]/g, (c) => PSEUDO_LETTERS[c] ?? c))).join('')}⟧`;
}

function pseudoCatalogue(value: unknown): unknown {
  if (typeof value === 'string') return pseudoText(value);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, pseudoCatalogue(v)]));
  return value;
}

/**
 * One i18next instance per app, with one namespace per catalogue folder: 'host' for the host's
 * own pages, and each plugin's name for its pages (`t('announcements:title')`).
 */
export function createI18n(dirs: Map<string, string>, defaultLocale: string, options: { pseudo?: boolean; programme?: string } = {}): i18n {
  const resources: Record<string, Record<string, unknown>> = {};
  for (const [ns, dir] of dirs) {
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const lang = path.basename(file, '.json');
      resources[lang] ??= {};
      resources[lang][ns] = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    }
  }
  if (options.pseudo) resources[PSEUDO_LANGUAGE] = pseudoCatalogue(resources.en) as Record<string, unknown>;
  const instance = i18next.createInstance();
  // Every number a text interpolates ("{{count}} accounts") is written the reader's way.
  instance.use({
    type: 'formatter',
    init() {},
    add() {},
    addCached() {},
    format: (value: unknown, _format: string | undefined, lng: string | undefined) =>
      typeof value === 'number' && Number.isFinite(value) ? formatNumber(lng ?? 'en', value) : value,
  } as never);
  void instance.init({
    resources: resources as never,
    lng: defaultLocale,
    fallbackLng: 'en',
    supportedLngs: [...Object.keys(LANGUAGES), ...(options.pseudo ? [PSEUDO_LANGUAGE] : [])],
    ns: [...dirs.keys()],
    defaultNS: 'host',
    initAsync: false,
    // EJS escapes on output (<%= %>); escaping here too would show &amp; to people.
    // `{{programme}}` in any text is the programme's name; pages put the name an admin set (app.ts).
    interpolation: { escapeValue: false, alwaysFormat: true, defaultVariables: { programme: options.programme ?? 'Olive' } },
    returnNull: false,
  });
  return instance;
}

export function isSupportedLanguage(lang: unknown): lang is string {
  return typeof lang === 'string' && Object.hasOwn(LANGUAGES, lang);
}

function cookieLanguage(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  const match = header.split(/;\s*/).find((c) => c.startsWith(`${LANGUAGE_COOKIE}=`));
  return match?.slice(LANGUAGE_COOKIE.length + 1);
}

/**
 * Picks the language: the signed-in person's saved choice, then the language cookie (people who
 * have not signed in can choose too), then the browser's Accept-Language, then the default.
 */
export function languageMiddleware(instance: i18n, defaultLocale: string) {
  const supported = Object.keys(LANGUAGES);
  const pseudo = (instance.options.supportedLngs || []).includes(PSEUDO_LANGUAGE);
  return (req: Request, res: Response, next: NextFunction) => {
    const cookie = cookieLanguage(req);
    if (pseudo && cookie === PSEUDO_LANGUAGE) return answerIn(PSEUDO_LANGUAGE, req, res, next);
    const candidates = [req.user?.locale, cookie];
    let lang = candidates.find(isSupportedLanguage);
    // Without an Accept-Language header `acceptsLanguages` answers the first language offered.
    if (!lang && req.headers['accept-language']) lang = req.acceptsLanguages(...supported) || undefined;
    lang ??= isSupportedLanguage(defaultLocale) ? defaultLocale : 'en';
    answerIn(lang, req, res, next);
  };

  function answerIn(lang: string, req: Request, res: Response, next: NextFunction) {
    const locals = pageLocals(instance, lang);
    req.language = lang;
    req.t = locals.t;
    Object.assign(res.locals, locals);
    next();
  }
}

/**
 * What every page's view reads about its language: `lang`, `dir`, `t`, the formatters (one date
 * style across every page: src/core/formats.ts) and the switcher's list, named so that no page's
 * own locals (a course's `languages`, say) can hide it. The benchmark's ceiling renders with it too.
 */
export function pageLocals(instance: i18n, lang: string) {
  return {
    lang,
    dir: LANGUAGES[lang]?.dir ?? 'ltr',
    t: instance.getFixedT(lang) as TFunction,
    formatDate: (d: Date | string | null | undefined) => formatDate(lang, d),
    formatDateTime: (d: Date | string | null | undefined) => formatDateTime(lang, d),
    formatNumber: (n: number) => formatNumber(lang, n),
    formatList: (items: readonly string[]) => formatList(lang, items),
    formatBytes: (bytes: number) => formatBytes(bytes, lang),
    interfaceLanguages: LANGUAGES,
  };
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The language chosen for this request. */
      language: string;
      /** Translates a key in the request's language. */
      t: TFunction;
    }
  }
}
