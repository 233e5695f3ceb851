import type { Clock } from '../core/clock.js';
import type { Config } from '../config.js';
import type { Store } from '../store/index.js';

/** What every use-case needs: the store, the time, the settings, and a way to wake the worker. */
export interface ServiceContext {
  store: Store;
  clock: Clock;
  config: Config;
  /** Called after new deliveries are committed, so an idle worker picks them up at once. */
  nudge: () => void;
  /** Called after a recovery job is queued. */
  nudgeRecoveries: () => void;
}
