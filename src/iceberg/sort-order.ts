import { lakehouseError } from '../core/errors.js';
import { parseTransform } from './transforms.js';

/** Sort orders in their JSON shape (spec "Sorting", Appendix C "Sort Orders"). */
export type SortDirection = 'asc' | 'desc';
export type NullOrder = 'nulls-first' | 'nulls-last';

export interface SortField {
  transform: string;
  'source-id': number;
  direction: SortDirection;
  'null-order': NullOrder;
  /** Only for multi-argument transforms (v3); preserved so such metadata round-trips. */
  'source-ids'?: number[];
}

export interface SortOrder {
  'order-id': number;
  fields: SortField[];
}

/** Order id 0 is reserved for the unsorted order (spec "Sorting"). */
export const UNSORTED_ORDER: SortOrder = Object.freeze({ 'order-id': 0, fields: Object.freeze([]) as unknown as SortField[] });

export function isUnsorted(order: SortOrder): boolean {
  return order.fields.length === 0;
}

/** Java's default when a null order is not given: nulls sort as the smallest value. */
export function defaultNullOrder(direction: SortDirection): NullOrder {
  return direction === 'asc' ? 'nulls-first' : 'nulls-last';
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function parseSortOrder(json: unknown, where = 'sort-order'): SortOrder {
  const invalid = (msg: string) => lakehouseError('INVALID_METADATA', `${where}: ${msg}`);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('expected an object');
  const o = json as Record<string, unknown>;
  if (!isInt(o['order-id'])) throw invalid('order-id must be an integer');
  if (!Array.isArray(o.fields)) throw invalid('missing fields');
  const fields = o.fields.map((raw, i): SortField => {
    const at = `fields[${i}]`;
    if (raw === null || typeof raw !== 'object') throw invalid(`${at}: expected an object`);
    const f = raw as Record<string, unknown>;
    const ids = f['source-ids'];
    const multi = Array.isArray(ids) && ids.length > 0 && ids.every(isInt) ? (ids as number[]) : undefined;
    const sourceId = isInt(f['source-id']) ? f['source-id'] : multi?.[0];
    if (sourceId === undefined) throw invalid(`${at}: missing source-id`);
    if (typeof f.transform !== 'string') throw invalid(`${at}: missing transform`);
    try {
      parseTransform(f.transform);
    } catch (e) {
      throw lakehouseError('INVALID_METADATA', `${where}.${at}: ${(e as Error).message}`, {}, e);
    }
    // Java reads direction and null order case-insensitively.
    const direction = typeof f.direction === 'string' ? f.direction.toLowerCase() : undefined;
    if (direction !== 'asc' && direction !== 'desc') throw invalid(`${at}: direction must be asc or desc`);
    const nullOrder = typeof f['null-order'] === 'string' ? f['null-order'].toLowerCase() : undefined;
    if (nullOrder !== 'nulls-first' && nullOrder !== 'nulls-last') throw invalid(`${at}: null-order must be nulls-first or nulls-last`);
    const field: SortField = { transform: f.transform, 'source-id': sourceId, direction, 'null-order': nullOrder };
    if (multi && multi.length > 1) field['source-ids'] = multi;
    return field;
  });
  if (o['order-id'] === 0 && fields.length > 0) throw invalid('order id 0 is reserved for the unsorted order');
  return { 'order-id': o['order-id'], fields };
}
