import { expect } from 'vitest';
import type { SecureServer } from '../security/support.js';

/**
 * The Iceberg side of the federated joins: `shop.orders` (id, customer_id, amount), eight orders
 * of customers 1–4 and 6 of the source tables, and one of customer 99, whom no source knows.
 */
export async function createShopOrders(s: SecureServer): Promise<void> {
  const field = (id: number, name: string, type: string) => ({ id, name, type, required: false });
  const steps: [string, unknown][] = [
    ['/v1/lakehouse/namespaces', { namespace: ['shop'] }],
    ['/v1/lakehouse/namespaces/shop/tables', { name: 'orders', schema: { type: 'struct', 'schema-id': 0, fields: [field(1, 'id', 'long'), field(2, 'customer_id', 'long'), field(3, 'amount', 'double')] } }],
    ['/api/v1/queries', { sql: 'INSERT INTO shop.orders VALUES (10, 1, 5.0), (11, 1, 7.5), (12, 2, 100.0), (13, 3, 1.0), (14, 3, 20.0), (15, 4, 8.0), (16, 6, 3.0), (17, 99, 4.0)' }],
  ];
  for (const [path, body] of steps) {
    const r = await s.call('POST', path, { token: s.adminKey, body });
    expect(r.status, r.text).toBe(200);
  }
}
