/** etcd knowledge: env file, versions, etcdctl/etcdutl command lines, output parsers, error codes. */
export * from './classify.js';
export * from './commands.js';
export * from './envdiff.js';
export * from './envfile.js';
export * from './errors.js';
export * from './initial-cluster.js';
export * from './json.js';
export { parseTable, type Table } from './output.js';
export * from './parse.js';
export * from './parse-members.js';
export * from './records.js';
export * from './version.js';
export * from './walmeta.js';
