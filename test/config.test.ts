import { expect } from 'chai';
import { DEV_SESSION_SECRET, loadHostConfig } from '../src/core/config.ts';
import { OliveError } from '../src/core/errors.ts';

const fail = (env: Record<string, string>) => {
  try {
    loadHostConfig(env, '/srv/olive');
  } catch (err) {
    expect(err).to.be.instanceOf(OliveError);
    expect((err as OliveError).code).to.equal('OLIVE_CONFIG_INVALID');
    return (err as OliveError).message;
  }
  throw new Error('expected the configuration to be refused');
};

describe('host configuration', () => {
  it('has working defaults for a development machine', () => {
    const cfg = loadHostConfig({}, '/srv/olive');
    expect(cfg).to.include({
      PORT: 3000,
      HOST: '127.0.0.1',
      BASE_URL: 'http://127.0.0.1:3000',
      production: false,
      secureCookies: false,
      dataDir: '/srv/olive/data',
    });
    expect(cfg.MONGODB_URI).to.equal(undefined);
  });

  it('treats empty variables as unset', () => {
    expect(loadHostConfig({ PORT: '', MONGODB_URI: '' }, '/srv/olive').PORT).to.equal(3000);
  });

  it('reports every problem at once, naming the variables', () => {
    const message = fail({ PORT: 'eighty', MONGODB_URI: 'postgres://x', LOG_LEVEL: 'loud', BASE_URL: 'ftp://x' });
    for (const name of ['PORT', 'MONGODB_URI', 'LOG_LEVEL', 'BASE_URL']) expect(message).to.contain(`  - ${name}:`);
    expect(message).to.contain('must start with mongodb:// or mongodb+srv://');
  });

  it('refuses to run in production with the default or a short secret, or without a public address', () => {
    const message = fail({ NODE_ENV: 'production' });
    expect(message).to.match(/SESSION_SECRET: must be set to a random value of at least 32 characters/);
    expect(message).to.match(/BASE_URL: must be set in production/);
    expect(fail({ NODE_ENV: 'production', BASE_URL: 'https://learn.example.org', SESSION_SECRET: 'short' })).to.contain('SESSION_SECRET');
    expect(fail({ NODE_ENV: 'production', BASE_URL: 'https://learn.example.org', SESSION_SECRET: DEV_SESSION_SECRET })).to.contain('SESSION_SECRET');
  });

  it('uses secure cookies whenever the public address is https', () => {
    const cfg = loadHostConfig({ NODE_ENV: 'production', BASE_URL: 'https://learn.example.org/', SESSION_SECRET: 'x'.repeat(40), TRUST_PROXY: '1' }, '/srv');
    expect(cfg).to.include({ secureCookies: true, BASE_URL: 'https://learn.example.org', trustProxy: 1, production: true });
    expect(loadHostConfig({ BASE_URL: 'https://a.example', SECURE_COOKIES: 'false' }).secureCookies).to.equal(false);
  });
});
