// Hooks and pending calls for objects on the peer.
//
// Owns ImportHook (a capability the peer exported to us, by import id; its last release
// sends Release with the number of times we received it), PipelineTargetHook (the
// not-yet-returned result of one of our questions at a pointer path: calls go out with
// a promisedAnswer target) and Question (a call we sent, completed by the peer's Return).

import { MessageTarget, PromisedAnswer, PromisedAnswer_Op } from "../rpc_capnp.mjs";
import { Hook, Pending } from "./hooks.mjs";

export class ImportHook extends Hook {
  constructor(conn, importId) {
    super();
    this._refs = 0;
    this.conn = conn;
    this.importId = importId;
    this.remoteRefs = 0;
    this.promise = null; // the PromiseHook to resolve, for a senderPromise import
  }

  toString() { return `<ImportHook ${this.importId}>`; }

  call(interfaceId, methodId, content) {
    return this.conn._sendCall(this.writeTarget(), interfaceId, methodId, content);
  }

  writeTarget() {
    return new MessageTarget({ importedCap: this.importId });
  }

  _dispose() {
    this.conn._releaseImport(this);
  }
}

export class PipelineTargetHook extends Hook {
  constructor(conn, question, ops) {
    super();
    this.conn = conn;
    this.question = question;
    this.ops = ops;
  }

  toString() { return `<PipelineTargetHook q${this.question.id} [${this.ops}]>`; }

  call(interfaceId, methodId, content) {
    return this.conn._sendCall(this.writeTarget(), interfaceId, methodId, content);
  }

  promisedAnswer() {
    return new PromisedAnswer({
      questionId: this.question.id,
      transform: this.ops.map((i) => new PromisedAnswer_Op({ getPointerField: i })),
    });
  }

  writeTarget() {
    return new MessageTarget({ promisedAnswer: this.promisedAnswer() });
  }
}

/** A question we asked; lives in the question table until Return and Finish. */
export class Question extends Pending {
  constructor(conn) {
    super();
    this.conn = conn;
    this.id = null;
    this.paramExports = [];
    this.returned = false;
    this.finishSent = false;
  }

  _pipelineTarget(ops) {
    return new PipelineTargetHook(this.conn, this, ops);
  }

  cancel() {
    this.conn._cancelQuestion(this);
  }
}
