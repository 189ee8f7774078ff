// The package's library entry, `import { relink } from 'ckpt'`. What is exported here is the public
// API, kept stable across patch releases; every other module is internal and may move.
//
// - relink: ELF bytes in, relinked bytes and a report out. It reads the runtime object shipped with
//   the package (build/runtime.o) and touches no other file; writing the output is the caller's.
//   A dynamic program's interpreter and libraries come in `carried`, as resolveClosure finds them
//   (it reads the library files, as ld.so would find them on this machine).
// - the image reader: decode and check a checkpoint image (docs/image-format.md), as ckpt-inspect
//   does, and the binary id that ties an image to the relinked binary that made it.
// - the shadow server (docs/shadow-protocol.md), as ckpt-shadow runs it: a ConfinedRoot for the
//   job's `/`, a policy text, a token, then ShadowServer.start.
//
// Errors are named classes (RelinkError with a stable `code`, ImageReadError, BinaryIdError,
// PolicyError); none of these functions prints or exits.

export { relink, type RelinkOptions, type RelinkResult, type RelinkReport, type SiteReport } from './rewriter/relink.js';
export { resolveClosure, type CarriedObject, type Closure, type ClosureOptions } from './rewriter/closure/index.js';
export { formatSummary as formatRelinkSummary } from './rewriter/report.js';
export { Tactic, type SudReason } from './rewriter/patch/tactics.js';
export { RelinkError, type RelinkErrorCode } from './errors.js';

export {
  ImageReadError, bufferSource, checkImage, fileSource, readImage,
  type Image, type ImageRecord, type ImageSource,
} from './image/read.js';
export { readChain, type ChainLink } from './image/chain.js';
export { imageToJson } from './image/json.js';
export { formatSummary as formatImageSummary } from './image/summary.js';
export { BinaryIdError, binaryId } from './image/binary-id.js';

export { ConfinedRoot } from './shadow/confine.js';
export { LOOKUP_MODES, type LookupMode } from './shadow/lookup-pool.js';
export { tokenFromFile } from './shadow/protocol.js';
export {
  PolicyError, ShadowServer, parsePolicyFile, policyText,
  type PolicyFile, type PolicyOptions, type ServerOptions,
} from './shadow/server.js';
