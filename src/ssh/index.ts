/** The SSH transport: knows nodes, commands and files, nothing of etcd. */
export {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOfBlob,
  knownHostLine,
  knownHostName,
  matchHostPatterns,
  parseKnownHosts,
  readKnownHosts,
  type HostKeyCheck,
  type HostKeyStatus,
  type KnownHostEntry,
  type KnownHostsDb,
} from './knownhosts.js';
export { buildCommand, hostKeyAlgorithmOrder, isSudoPasswordPrompt } from './command.js';
export {
  ConnectFailedError,
  ConnectionLostError,
  HostKeyError,
  SudoPasswordError,
  isConnectError,
  type ConnectError,
  type ConnectFailureKind,
} from './errors.js';
export { JumpConnections, SshConnection, connectNode, type ConnectOptions, type ConnectionEvent, type ExecEvent } from './connection.js';
export { Transport, openConnections } from './transport.js';
export type { DownloadOptions, ExecOptions, ExecResult, GrowingFile, NodeConnection } from './types.js';
