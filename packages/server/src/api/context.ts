import type { ServiceContext } from '../services/context.js';
import type { DeliveryService } from '../services/deliveries.js';
import type { EndpointService } from '../services/endpoints.js';
import type { EventService } from '../services/events.js';
import type { TenantService } from '../services/tenants.js';
import type { Authenticator } from './auth.js';

/** Everything the HTTP layer talks to. Routers get this and nothing else. */
export interface ApiContext extends ServiceContext {
  auth: Authenticator;
  tenants: TenantService;
  endpoints: EndpointService;
  events: EventService;
  deliveries: DeliveryService;
  /** Readiness: store reachable and (when this process delivers) the worker running; `reason` says why not. */
  ready: () => Promise<{ store: boolean; worker: boolean | null; reason?: string }>;
}
