export { createClient, BasaltClient } from "./client.js";
export type { ClientOptions } from "./client.js";
export { BasaltError } from "./errors.js";
export { memoryStorage } from "./storage.js";
export type { AuthStorage } from "./storage.js";
export type { Session, User, MfaRequired, AuthEvent, SessionInfo, MfaEnrolment, Auth } from "./auth.js";
export type {
  Doc,
  Filter,
  FilterOp,
  Query,
  Page,
  UpdateFields,
  WriteOptions,
  BatchOperation,
  AnyDatabase,
  Collection,
} from "./documents.js";
export type {
  RealtimeStatus,
  SubscriptionEvent,
  SubscribeOptions,
  Subscription,
  PresenceEvent,
  BroadcastEvent,
  Channel,
  LiveQuery,
  Realtime,
  WebSocketLike,
} from "./realtime.js";
export type { ObjectInfo, UploadOptions, UploadProgress, UploadBody, Bucket } from "./files.js";
export type { Hooks, RequestContext, OperationId, FetchLike } from "./http.js";
export type { paths, components, operations } from "./generated/openapi.js";
