import { DuckDBTypeId, type DuckDBType, DuckDBDecimalType, DuckDBListType, DuckDBStructType, DuckDBMapType, DuckDBArrayType } from '@duckdb/node-api';
import { lakehouseError } from '../core/errors.js';
import type { IcebergType, NestedField } from '../iceberg/types.js';

/**
 * Iceberg type for a DuckDB result column (CREATE TABLE AS). Field ids are provisional: table
 * creation assigns fresh ids. Unsigned and small integers widen to the next Iceberg type that
 * holds every value.
 */
export function icebergTypeOf(t: DuckDBType, nextId: () => number): IcebergType {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN: return 'boolean';
    case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT: case DuckDBTypeId.USMALLINT: return 'int';
    case DuckDBTypeId.BIGINT: case DuckDBTypeId.UINTEGER: return 'long';
    case DuckDBTypeId.UBIGINT: case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: return 'decimal(38, 0)';
    case DuckDBTypeId.FLOAT: return 'float';
    case DuckDBTypeId.DOUBLE: return 'double';
    case DuckDBTypeId.DECIMAL: {
      const d = t as DuckDBDecimalType;
      return `decimal(${d.width}, ${d.scale})`;
    }
    case DuckDBTypeId.DATE: return 'date';
    case DuckDBTypeId.TIME: return 'time';
    case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_S: case DuckDBTypeId.TIMESTAMP_MS: return 'timestamp';
    case DuckDBTypeId.TIMESTAMP_TZ: return 'timestamptz';
    case DuckDBTypeId.VARCHAR: case DuckDBTypeId.ENUM: return 'string';
    case DuckDBTypeId.UUID: return 'uuid';
    case DuckDBTypeId.BLOB: return 'binary';
    case DuckDBTypeId.SQLNULL: return 'string';
    case DuckDBTypeId.LIST: case DuckDBTypeId.ARRAY: {
      const elem = (t as DuckDBListType | DuckDBArrayType).valueType;
      const id = nextId();
      return { type: 'list', 'element-id': id, element: icebergTypeOf(elem, nextId), 'element-required': false };
    }
    case DuckDBTypeId.STRUCT: {
      const s = t as DuckDBStructType;
      const fields: NestedField[] = s.entryNames.map((name, i) => {
        const id = nextId();
        return { id, name, required: false, type: icebergTypeOf(s.entryTypes[i], nextId) };
      });
      return { type: 'struct', fields };
    }
    case DuckDBTypeId.MAP: {
      const m = t as DuckDBMapType;
      const keyId = nextId();
      const valueId = nextId();
      return { type: 'map', 'key-id': keyId, key: icebergTypeOf(m.keyType, nextId), 'value-id': valueId, value: icebergTypeOf(m.valueType, nextId), 'value-required': false };
    }
    default:
      throw lakehouseError('UNKNOWN_TYPE', `DuckDB type ${t.toString()} has no Iceberg equivalent`);
  }
}
