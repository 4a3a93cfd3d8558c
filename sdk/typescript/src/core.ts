// `@basalt/client/core`: auth, documents and functions, without realtime, storage and push.
export { createCoreClient, CoreClient } from "./base.js";
export type { ClientOptions, WebSocketLike, WebSocketConstructor } from "./base.js";
export { BasaltError } from "./errors.js";
export { memoryStorage } from "./storage.js";
export type { AuthStorage } from "./storage.js";
export type { Session, User, MfaRequired, AuthEvent, SessionInfo, MfaEnrolment, Auth, RefreshFailure } from "./auth.js";
export { DocumentCollection } from "./documents.js";
export type {
  Doc,
  Filter,
  FilterOp,
  FieldPath,
  PathValue,
  Query,
  Page,
  UpdateFields,
  WriteOptions,
  BatchOperation,
  AnyDatabase,
  CollectionName,
  DataOf,
} from "./documents.js";
export type { Functions } from "./functions.js";
export type { Hooks, RequestContext, OperationId, FetchLike } from "./http.js";
