import { HeraldError } from '../errors.js';
import type { Profile } from './profile.js';
import { lilyProfile } from './lily.js';
import { screenshotProfile } from './screenshot.js';
import { standardProfile } from './standard.js';

export type { Profile, AttemptContext } from './profile.js';

const registry = new Map<string, Profile>([standardProfile, lilyProfile, screenshotProfile].map((p) => [p.name, p]));

export const DEFAULT_PROFILE = standardProfile.name;

export function registerProfile(profile: Profile): void {
  registry.set(profile.name, profile);
}

export function profileNames(): string[] {
  return [...registry.keys()];
}

export function getProfile(name: string): Profile {
  const profile = registry.get(name);
  if (!profile) {
    throw new HeraldError('validation_error', `unknown profile "${name}"`, [
      { field: 'profile', message: `must be one of: ${profileNames().join(', ')}` },
    ]);
  }
  return profile;
}
