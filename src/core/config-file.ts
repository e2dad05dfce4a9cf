import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OliveError } from './errors.ts';
import type { PluginDefinition } from './plugin.ts';

/**
 * The composition root of a deployment (`olive.config.ts` by default): which plugins are enabled,
 * in which order, with which configuration. It lives outside `src/` so the host never imports a plugin.
 */
export interface OliveConfigFile {
  plugins: readonly PluginDefinition[];
  pluginConfig?: Record<string, unknown>;
}

export const defineOliveConfig = (config: OliveConfigFile): OliveConfigFile => config;

export async function loadConfigFile(file: string, cwd = process.cwd()): Promise<OliveConfigFile> {
  const full = path.resolve(cwd, file);
  let mod: { default?: OliveConfigFile };
  try {
    mod = await import(pathToFileURL(full).href);
  } catch (err) {
    throw new OliveError('OLIVE_CONFIG_FILE', `Cannot load the plugin configuration ${full}: ${(err as Error).message}`, { cause: err });
  }
  if (!mod.default || !Array.isArray(mod.default.plugins)) {
    throw new OliveError('OLIVE_CONFIG_FILE', `${full} must export default defineOliveConfig({ plugins: [...] })`);
  }
  return mod.default;
}
