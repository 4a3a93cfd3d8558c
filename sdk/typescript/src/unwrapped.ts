/**
 * Every operation of the server's OpenAPI document is either wrapped by the facade (it appears in
 * a `core.send("<operationId>", …)` call under src/) or listed here with the reason it is not.
 * test/coverage.test.ts fails on any operation that is neither, so a new route forces a decision.
 */
export const DELIBERATELY_UNWRAPPED: Record<string, string> = {
  get_metrics: "Prometheus text for operators, not app code",
  get_health: "ops probe, not app code",
  get_health_ready: "ops probe, not app code",
  get_openapi_json: "the spec itself; the SDK's types are generated from it",
  get_auth_jwks_json: "for backends that verify tokens themselves, not for clients",
  get_realtime: "the WebSocket upgrade: opened by basalt.realtime, not by send()",
  get_auth_oauth_by_provider_authorize: "a browser navigation: auth.oauthUrl() builds its address",
  get_auth_oauth_by_provider_callback: "called by the OAuth provider; auth.handleRedirect() reads its result",
  post_auth_oauth_by_provider_callback: "form_post callback called by the provider, not by clients",
  get_db_collections: "collection management is for admins and service keys: the dashboard's (basalt-typegen reads it)",
  post_db_collections: "collection management is the dashboard's",
  get_db_collections_by_name: "collection management is the dashboard's",
  patch_db_collections_by_name: "collection management is the dashboard's",
  delete_db_collections_by_name: "collection management is the dashboard's",
  get_storage_buckets: "bucket management is the dashboard's",
  post_storage_buckets: "bucket management is the dashboard's",
  get_storage_buckets_by_name: "bucket management is the dashboard's",
  patch_storage_buckets_by_name: "bucket management is the dashboard's",
  delete_storage_buckets_by_name: "bucket management is the dashboard's",
  head_storage_by_bucket_by_path: "bucket.info() reads the listing, which carries the full object",
};

/**
 * Prefixes of operations that belong to the dashboard as a whole (admin routes): admin sign-in and
 * two-factor, admins, keys, users (their sessions and MFA reset), settings and the test mail,
 * rules playground, logs, audit, stats, channels, functions (saving, versions, executions and
 * retrying a dead execution), and webhooks (saving, deleting, their deliveries and retrying a dead
 * delivery).
 * Apps call functions through `POST /v1/functions/{name}`, which `functions.invoke` wraps.
 * test/coverage.test.ts checks that this prefix matches the /v1/admin/ routes and nothing else.
 */
export const UNWRAPPED_PREFIXES: Record<string, string> = {
  _admin_: "admin routes (/v1/admin/…) are the dashboard's",
};
