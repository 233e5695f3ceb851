import type { Kysely } from 'kysely';
import { HeraldError } from '../core/errors.js';
import type { EventType } from '../core/model.js';
import { toEventType } from './rows.js';
import type { Database } from './schema.js';

export class EventTypeRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates the type, or answers `conflict`: the primary key decides, so concurrent creates get one 201 and 409s. */
  async create(type: EventType): Promise<EventType> {
    const res = await this.db
      .insertInto('event_types')
      .values({
        tenant_id: type.tenantId,
        name: type.name,
        description: type.description,
        schema: type.schema === null ? null : JSON.stringify(type.schema),
        created_at: type.createdAt,
        updated_at: type.createdAt,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) === 0) throw new HeraldError('conflict', `event type "${type.name}" already exists`, [{ field: 'name', message: 'already exists' }]);
    return type;
  }

  async get(tenantId: string, name: string): Promise<EventType | undefined> {
    const row = await this.db.selectFrom('event_types').selectAll().where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    return row && toEventType(row);
  }

  async list(tenantId: string): Promise<EventType[]> {
    const rows = await this.db.selectFrom('event_types').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
    return rows.map(toEventType);
  }
}
