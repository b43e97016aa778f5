/** The local lab: real etcd + sshd nodes on this machine, for etcd-dr's tests, benches and demos. */
export { breakAllDown, type BreakResult } from './break.js';
export { labDown, type LabDownResult } from './down.js';
export { etcdctlFlags, etcdctlInNode, labEtcdVersion, labExec } from './exec.js';
export { loadKeys } from './load.js';
export { powerOff, powerOn } from './power.js';
export { labStatus } from './status.js';
export { openLab, type LabTarget } from './target.js';
export { labUp } from './up.js';
export type {
  LabDirOptions, LabDownOptions, LabEtcdVersion, LabExecOptions, LabLog, LabNodeState, LabNodeStatus, LabState, LabStatus, LabUpOptions,
  LoadOptions, LoadResult,
} from './types.js';
export { renderStatusTable, renderUsage } from './render.js';
export { labNodeProcesses, labCmdlineProcesses } from './procs.js';
export { mountNodeTmpfs, nodeDiskUsage, resizeNodeTmpfs, type NodeDiskUsage } from './disk.js';
export { ackedWrites, apiserverCtl, enableApiservers, LAB_APISERVER_HOOKS, withApiserverHooks, type AckedWrite } from './apiserver.js';
export { EVENTS_CLUSTER, LAB_PROFILES, MAIN_CLUSTER, type LabCluster, type LabFeatures, type LabProfileName } from './profile.js';
