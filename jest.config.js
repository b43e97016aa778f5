// ESM TypeScript through ts-jest; type checking is done once by `tsc --noEmit` (npm run typecheck),
// so ts-jest only transpiles (isolatedModules) and test start-up stays fast.
const tsJest = [
  'ts-jest',
  { useESM: true, isolatedModules: true, tsconfig: 'tsconfig.json', diagnostics: false },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      // e2e suites drive real etcd clusters; give them room, they wait on etcd's own signals.
      // (`testTimeout` is a top-level option only: a project's own is ignored, so a setup file sets it.)
      setupFilesAfterEnv: ['<rootDir>/test/support/e2e-timeout.ts'],
    },
  ],
};
