/** Cursor pagination over time-sortable ids, newest first: fetch one more row than asked to know if there is a next page. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export const MAX_PAGE_SIZE = 250;

export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.id : null };
}
