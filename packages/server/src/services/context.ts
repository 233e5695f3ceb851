import type { Clock } from '../core/clock.js';
import type { Config } from '../config/index.js';
import type { WebhookEvent } from '../core/model.js';
import type { DispatchEndpoint, PlannedDelivery, Store } from '../store/index.js';

/** What every use-case needs: the store, the time, the settings, and a way to wake the worker. */
export interface ServiceContext {
  store: Store;
  clock: Clock;
  config: Config;
  /** Called after new deliveries are committed, so an idle worker picks them up at once. */
  nudge: () => void;
  /** Called after a recovery job is queued. */
  nudgeRecoveries: () => void;
  /** The delivery worker of this process, when it runs one: it can take fresh deliveries in memory. */
  fresh?: FreshDeliveries;
}

/** A delivery about to be published, as offered to the worker. */
export interface FreshCandidate {
  id: string;
  endpoint: DispatchEndpoint;
}

/**
 * The worker's side of a publish hand-off: deliveries whose endpoint has a slot free right now
 * are written already leased to the worker and handed to it once committed, so they need no claim
 * (a write and two reads, ~1.5 ms of an idle delivery's latency). Leases keep this at-least-once:
 * if the process dies first, they expire and any worker claims the deliveries.
 */
export interface FreshDeliveries {
  /** Reserves slots for the deliveries it takes; null when it takes none. */
  offer(candidates: readonly FreshCandidate[]): FreshHandOff | null;
}

export interface FreshHandOff {
  owner: string;
  leaseUntil: number;
  /** Ids of the deliveries taken: write them leased (`PlannedDelivery.lease`). */
  taken: ReadonlySet<string>;
  /** After the commit: the events written (duplicates left out) with their deliveries. Frees the reservation. */
  accept(written: readonly { event: WebhookEvent; deliveries: readonly PlannedDelivery[] }[]): void;
  /** Nothing was written (the transaction failed). Frees the reservation. */
  cancel(): void;
}
