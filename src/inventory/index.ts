export type { EtcdSettings, Inventory, JumpHost, NodeSpec, SshSettings } from './types.js';
export { clientUrl, peerUrl, urlHost } from './types.js';
export { loadInventory, resolveInventoryPath, type InventorySource, type LoadInventoryOptions } from './load.js';
export { DEFAULT_IDENTITY_FILES, ETCD_DEFAULTS, SSH_DEFAULTS, parseInventory, sortProblems, type InventoryContext } from './parse.js';
export { expandTokens, jumpText, parseSshG, resolveRoute, sshG, type OwnSsh, type ResolvedSsh, type SshGOptions } from './ssh-resolve.js';
export { fallbackSsh, sshGResolver, type SshResolver } from './ssh-settings.js';
export { parseJumpSpec, stringProblem, type StringFormat } from './formats.js';
export { editDistance, suggest } from './suggest.js';
