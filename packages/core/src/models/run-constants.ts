// Constants of the run record, in a module of their own: importing core does not load zod (the
// record's schema, in run-record.ts, is built on first use).

/** Status code of a CANCELLED run (nginx's "client closed request", as Powertools and others use). */
export const CANCELLED_STATUS_CODE = 499;

/** The DynamoDB table name the original wrote to; kept as the default. */
export const DEFAULT_METADATA_TABLE_NAME = 'integration_run_metadata';
