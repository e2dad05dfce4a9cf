import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { OliveError } from './errors.ts';

/** Secrets the app refuses in production: the development default and anything shorter than 32 chars. */
export const DEV_SESSION_SECRET = 'olive-development-secret-change-me';

const boolean = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * The host's configuration, read from environment variables (and `.env`). Each entry documents one
 * variable; the README's configuration table mirrors this schema.
 */
export const hostConfigSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://learn.example.org' }).optional(),
    MONGODB_URI: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
      .optional(),
    OLIVE_DATA_DIR: z.string().min(1).default('data'),
    OLIVE_CONFIG: z.string().min(1).default('olive.config.ts'),
    SESSION_SECRET: z.string().min(1).default(DEV_SESSION_SECRET),
    SESSION_MAX_AGE_HOURS: z.coerce
      .number()
      .positive()
      .max(24 * 30)
      .default(12),
    TRUST_PROXY: z.string().default('false'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DEFAULT_LOCALE: z.string().min(2).default('en'),
    /** Adds the pseudo-language `qps` (English, marked ⟦…⟧): text on a page without the marks is not from a catalogue. */
    PSEUDO_LOCALE: boolean.optional(),
    DEMO_DATA: z.enum(['auto', 'off']).default('auto'),
    LOGIN_RATE_LIMIT: z.coerce.number().int().positive().default(10),
    PLUGIN_START_TIMEOUT_MS: z.coerce.number().int().positive().default(15000),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10000),
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    SECURE_COOKIES: boolean.optional(),
    PROGRAMME_NAME: z.string().trim().min(1).max(120).default('Olive'),
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://, e.g. smtp://user:pass@relay.example.org:587')
      .optional(),
    MAIL_FROM: z.string().min(3).max(320).optional(),
    MAIL_PER_MINUTE: z.coerce.number().int().positive().max(100000).default(120),
    MAIL_RETRY_MS: z.coerce.number().int().positive().default(10000),
    DKIM_DOMAIN: z.string().min(1).optional(),
    DKIM_SELECTOR: z.string().min(1).optional(),
    DKIM_PRIVATE_KEY_FILE: z.string().min(1).optional(),
    JOB_POLL_MS: z.coerce.number().int().min(10).max(60000).default(1000),
    REGISTRATION: z.enum(['off', 'domains', 'open']).default('off'),
    REGISTRATION_DOMAINS: z.string().optional(),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.REGISTRATION === 'domains' && !cfg.REGISTRATION_DOMAINS?.trim()) {
      ctx.addIssue({
        code: 'custom',
        path: ['REGISTRATION_DOMAINS'],
        message: 'must list the e-mail domains allowed to register (comma-separated) when REGISTRATION=domains',
      });
    }
    if ([cfg.DKIM_DOMAIN, cfg.DKIM_SELECTOR, cfg.DKIM_PRIVATE_KEY_FILE].filter(Boolean).length % 3 !== 0) {
      ctx.addIssue({ code: 'custom', path: ['DKIM_DOMAIN'], message: 'DKIM signing needs all three of DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE' });
    }
    if (cfg.NODE_ENV !== 'production') return;
    if (cfg.SESSION_SECRET === DEV_SESSION_SECRET || cfg.SESSION_SECRET.length < 32) {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSION_SECRET'],
        message: 'must be set to a random value of at least 32 characters in production (e.g. `openssl rand -hex 32`)',
      });
    }
    if (!cfg.BASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['BASE_URL'], message: 'must be set in production (the public address of the site)' });
    }
  });

export type HostEnv = z.infer<typeof hostConfigSchema>;

/** The validated configuration, with derived values the rest of the host needs. */
export interface HostConfig extends HostEnv {
  BASE_URL: string;
  production: boolean;
  /** Cookies get the Secure flag: explicit setting, else whenever the public address is https. */
  secureCookies: boolean;
  /** Absolute directory of the embedded database and other local state. */
  dataDir: string;
  trustProxy: boolean | number | string;
  /** Lower-case e-mail domains allowed to register when REGISTRATION=domains. */
  registrationDomains: string[];
}

/** Turns zod issues into one readable line per problem, naming the variable. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((i) => `${prefix}${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/**
 * Validates the environment. Every problem is reported at once, so a person fixing a deployment
 * sees the whole list instead of one error per restart.
 */
export function loadHostConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): HostConfig {
  // Empty strings mean "not set": a blank line in .env must not become an invalid value.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = hostConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new OliveError('OLIVE_CONFIG_INVALID', `Invalid configuration:\n${formatIssues(parsed.error.issues, '  - ').join('\n')}`);
  }
  const cfg = parsed.data;
  const baseUrl = (cfg.BASE_URL ?? `http://${cfg.HOST === '0.0.0.0' ? '127.0.0.1' : cfg.HOST}:${cfg.PORT}`).replace(/\/+$/, '');
  return {
    ...cfg,
    BASE_URL: baseUrl,
    production: cfg.NODE_ENV === 'production',
    secureCookies: cfg.SECURE_COOKIES ?? baseUrl.startsWith('https://'),
    dataDir: path.resolve(cwd, cfg.OLIVE_DATA_DIR),
    trustProxy: parseTrustProxy(cfg.TRUST_PROXY),
    registrationDomains: (cfg.REGISTRATION_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase().replace(/^@/, ''))
      .filter(Boolean),
  };
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value; // a list of addresses or subnets, as Express understands it
}

/** Loads `.env` from the working directory into process.env without overriding what is set. */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = path.join(cwd, '.env');
  if (fs.existsSync(file)) process.loadEnvFile(file);
}
