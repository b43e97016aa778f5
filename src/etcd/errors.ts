/** How much of an unparsable output an error keeps: enough to recognise it, never a whole db dump. */
export const EXCERPT_CHARS = 500;

/**
 * etcdctl, etcdutl or etcd printed something etcd-dr cannot read. Carries the command and the start of
 * the text so the operator can see what came back (an older/newer etcd, a wrapper script, a crash).
 */
export class ParseError extends Error {
  override name = 'ParseError';
  /** the start of the text that could not be parsed */
  readonly excerpt: string;

  constructor(
    /** the command whose output this was, e.g. `etcdctl member list -w json` */
    readonly command: string,
    /** what was wrong, e.g. `no "members" array` */
    readonly reason: string,
    text: string,
  ) {
    const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
    super(
      `unexpected output from ${command}: ${reason}; ` +
        (text.trim() === '' ? 'the output was empty' : `the output starts with: ${JSON.stringify(excerpt)}`) +
        '. Check that the etcd tools on the node are etcd 3.4 or 3.5 and print what they normally print.',
    );
    this.excerpt = excerpt;
  }
}

/** Invalid arguments for an etcd command or an env-file value that etcd-dr refuses to write. */
export class EtcdArgumentError extends Error {
  override name = 'EtcdArgumentError';
}

/** The etcd version on a node cannot do what was asked (e.g. 3.6 without etcdutl, bump-revision on 3.4.23). */
export class EtcdCapabilityError extends Error {
  override name = 'EtcdCapabilityError';
}
