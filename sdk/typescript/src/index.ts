// `@basalt/client`: everything. `createClient` has auth, documents, realtime, storage, functions
// and push; `createCoreClient` with `getRealtime` / `getStorage` / `getPush` lets a bundle leave
// out what it does not use.
export * from "./core.js";
export { createClient, BasaltClient, Collection } from "./client.js";
export { getRealtime, subscribe, live } from "./realtime.js";
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
  RealtimeServerMessage,
  RealtimeClientMessage,
} from "./realtime.js";
export { getStorage } from "./files.js";
export type { ObjectInfo, UploadOptions, UploadProgress, UploadBody, Bucket, StorageApi } from "./files.js";
export { getPush } from "./push.js";
export type { Push, PushDevice, PushKind, MobileDevice, PushSubscribeOptions, PushRegistration, BrowserPushSubscription } from "./push.js";
export type { paths, components, operations } from "./generated/openapi.js";
