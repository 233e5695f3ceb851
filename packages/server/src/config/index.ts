import { ParseError } from './parsers.js';
import { SETTINGS, type RoleName, type Setting, type SettingKey, type Settings } from './settings.js';

export { SETTINGS, type RoleName, type Setting, type SettingKey, type Settings } from './settings.js';

/**
 * Herald's configuration: every setting, parsed once with one rule whatever its source.
 * Code reads this, never `process.env`.
 */
export interface Config extends Settings {
  /** Whether this process serves the HTTP API (false for `--role worker`). */
  runApi: boolean;
  /** Whether this process runs the delivery worker (false for `--role api` or `--no-worker`). */
  runWorker: boolean;
}

/** A setting's value was refused; the message is the one line start-up prints. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ConfigSources {
  /** Environment variables; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Raw flag values by setting key (the CLI passes strings only, so flags and variables share one parser). */
  flags?: Partial<Record<SettingKey, string>>;
  /** Already-typed values from code (embedding, tests); they win over everything and are not parsed. */
  overrides?: Partial<Config>;
}

const ENTRIES = Object.entries(SETTINGS) as [SettingKey, Setting<unknown>][];

/** Every setting's default, as stated once in `SETTINGS`. */
export const DEFAULTS: Settings = Object.fromEntries(ENTRIES.map(([k, s]) => [k, s.default])) as Settings;

function flagName(s: Setting<unknown>): string | undefined {
  return s.flag?.split(' ')[0];
}

function read(key: SettingKey, s: Setting<unknown>, sources: ConfigSources): unknown {
  const flag = sources.flags?.[key];
  // An empty value counts as unset (as `FOO=` in an env file usually means).
  const [raw, from] = flag !== undefined ? [flag, flagName(s)!] : [(sources.env ?? process.env)[s.env], s.env];
  if (raw === undefined || raw.trim() === '') return s.default;
  try {
    return s.parse(raw);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    const shown = s.secret ? '(hidden)' : JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
    const why = err.message ? `: ${err.message}` : '';
    throw new ConfigError(`${from} must be ${s.parse.accepted} (got ${shown}${why})`);
  }
}

/** Reads every setting: overrides, then flags, then environment variables, then defaults. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const settings = Object.fromEntries(ENTRIES.map(([k, s]) => [k, read(k, s, sources)])) as Settings;
  const merged = { ...settings, ...definedOnly(sources.overrides ?? {}) } as Settings & Partial<Config>;
  if (merged.role === 'worker' && !merged.worker) {
    throw new ConfigError('HERALD_ROLE=worker with HERALD_WORKER=false leaves nothing to run: drop one of them');
  }
  return {
    ...merged,
    runApi: merged.runApi ?? merged.role !== 'worker',
    runWorker: merged.runWorker ?? (merged.role !== 'api' && merged.worker),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `HERALD_*` variables that name no setting: most likely typos, worth a warning at start. */
export function unknownVariables(env: Record<string, string | undefined> = process.env): string[] {
  const known = new Set(ENTRIES.map(([, s]) => s.env));
  return Object.keys(env).filter((k) => k.startsWith('HERALD_') && !k.startsWith('HERALD_TEST_') && !known.has(k)).sort();
}

function defaultText(s: Setting<unknown>): string {
  if (s.defaultText) return s.defaultText;
  if (s.default === undefined) return 'unset';
  return `\`${Array.isArray(s.default) ? s.default.join(',') : String(s.default)}\``;
}

const ROLE_TEXT = (roles: readonly RoleName[]): string => (roles.length === 2 ? 'both' : roles[0]!);

/** The README's configuration table, generated so that it cannot drift from the code. */
export function settingsTable(): string {
  const rows = ENTRIES.map(([, s]) => {
    const flag = s.flag ? `\`${s.flag.replace(' [bool]', '')}\`` : '';
    const accepts = s.parse.accepted === 'any text' ? '' : `; accepts ${s.parse.accepted}`;
    // A bare | would end the table cell.
    return `| \`${s.env}\` | ${flag} | ${defaultText(s)} | ${ROLE_TEXT(s.roles)} | ${`${s.doc}${accepts}`.replace(/\|/g, '\\|')} |`;
  });
  return ['| Variable | Flag | Default | Read by | Meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The effective settings of a config, secrets shown only as set or unset (`herald config`). */
export function describeConfig(config: Config): { setting: string; value: string }[] {
  return ENTRIES.map(([k, s]) => {
    const v = config[k];
    const value = v === undefined ? '(unset)' : s.secret ? '(set, hidden)' : Array.isArray(v) ? v.join(',') : String(v);
    return { setting: s.env, value };
  });
}
