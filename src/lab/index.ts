/** The local lab: real etcd + sshd nodes on this machine, for etcd-dr's tests, benches and demos. */
export {
  breakAllDown, etcdctlFlags, etcdctlInNode, labDown, labEtcdVersion, labExec, labStatus, labUp, loadKeys, openLab, powerOff, powerOn,
  type BreakResult, type LabDownResult, type LabTarget,
} from './lab.js';
export type {
  LabDirOptions, LabDownOptions, LabEtcdVersion, LabExecOptions, LabLog, LabNodeState, LabNodeStatus, LabState, LabStatus, LabUpOptions,
  LoadOptions, LoadResult,
} from './types.js';
export { renderStatusTable, renderUsage } from './render.js';
export { labNodeProcesses, labCmdlineProcesses } from './procs.js';
export { mountNodeTmpfs, nodeDiskUsage, resizeNodeTmpfs, type NodeDiskUsage } from './disk.js';
export { ackedWrites, apiserverCtl, enableApiservers, LAB_APISERVER_HOOKS, withApiserverHooks, type AckedWrite } from './apiserver.js';
export { EVENTS_CLUSTER, LAB_PROFILES, MAIN_CLUSTER, type LabCluster, type LabFeatures, type LabProfileName } from './profile.js';
