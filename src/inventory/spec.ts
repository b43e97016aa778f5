/** The inventory schema's vocabulary: what a field may hold, as data the validator walks. */
import type { StringFormat } from './formats.js';

export type Spec =
  | { kind: 'string'; format: StringFormat; what: string; extra?: (v: string) => string | undefined }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'port' }
  | { kind: 'bool' }
  | { kind: 'seconds' }
  /** `[user@]host[:port]`, `none`, or a mapping (JUMP_HOST) */
  | { kind: 'jumpHost' }
  | { kind: 'map'; what: string; fields: Record<string, Field>; synonyms?: Record<string, string> }
  | { kind: 'list'; what: string; itemWhat: string; item: Spec; minItems: number };

export interface Field {
  spec: Spec;
  required?: boolean;
  /** the default, as shown in messages */
  default?: string;
}
