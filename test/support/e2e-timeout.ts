// Jest reads `testTimeout` only from the top-level config, not from a project, so the e2e project sets
// its tests' timeout here: e2e tests drive real etcd clusters and wait on etcd's own signals.
import { jest } from '@jest/globals';

jest.setTimeout(300_000);
