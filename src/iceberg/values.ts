/**
 * In-memory representation of single Iceberg values (partition tuples, column bounds, literals).
 * One convention everywhere so transforms, manifests and scan planning agree:
 *
 * | Iceberg type                         | JS value                                   |
 * |--------------------------------------|--------------------------------------------|
 * | boolean                              | boolean                                    |
 * | int, date (days from 1970-01-01)     | number                                     |
 * | long, time (µs), timestamp[tz] (µs), timestamp[tz]_ns (ns) | bigint              |
 * | float, double                        | number                                     |
 * | decimal(p,s)                         | bigint (the unscaled value)                |
 * | string                               | string                                     |
 * | uuid                                 | string, lowercase 8-4-4-4-12               |
 * | fixed[L], binary                     | Uint8Array                                 |
 * | null                                 | null                                       |
 */
export type IcebergValue = boolean | number | bigint | string | Uint8Array | null;

/** A partition tuple, in partition-spec field order. */
export type PartitionTuple = IcebergValue[];
