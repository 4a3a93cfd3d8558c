# Generated from `basalt openapi` by datamodel-code-generator (scripts/generate_models.py): do not edit.
# Regenerate with `BASALT_BIN=... python scripts/generate_models.py`.

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from typing_extensions import NotRequired, TypedDict


class AdminUpdate(TypedDict, closed=True):
    claims: NotRequired[dict[str, Any] | None]
    data: NotRequired[dict[str, Any] | None]
    disabled: NotRequired[bool | None]
    email: NotRequired[str | None]
    email_verified: NotRequired[bool | None]
    mfa_enabled: NotRequired[bool | None]
    password: NotRequired[str | None]


class AuditActor(TypedDict):
    email: NotRequired[str | None]
    id: NotRequired[str | None]
    kind: str


class AuditEntry(TypedDict):
    action: str
    admin: AuditActor
    after: NotRequired[Any]
    before: NotRequired[Any]
    id: str
    target: str
    time: str


class AuditPage(TypedDict):
    entries: list[AuditEntry]
    next_cursor: NotRequired[str | None]


class BatchOperation(TypedDict):
    """
    `op` is `create`, `set`, `update` or `delete`; `update` takes the PATCH fields.
    """

    array_remove: NotRequired[dict[str, Any] | None]
    array_union: NotRequired[dict[str, Any] | None]
    collection: str
    data: NotRequired[dict[str, Any] | None]
    id: NotRequired[str | None]
    if_version: NotRequired[int | None]
    increment: NotRequired[dict[str, Any] | None]
    op: Literal['create', 'set', 'update', 'delete']
    server_time: NotRequired[list[str] | None]


class BatchRequest(TypedDict, closed=True):
    operations: list[BatchOperation]


class BucketRules(TypedDict, closed=True):
    delete: NotRequired[str | None]
    read: NotRequired[str | None]
    write: NotRequired[str | None]


class CaseResult(TypedDict):
    allowed: bool
    caller: str
    changed: bool
    error: NotRequired[str | None]
    expect_allowed: bool
    name: str
    operation: str


class CaseRun(TypedDict):
    changed: int
    results: list[CaseResult]


ChangeOp: TypeAlias = Literal['create', 'update', 'delete']


class ChannelRules(TypedDict):
    """
    The rules of a channel pattern, as stored and shown.
    """

    broadcast: NotRequired[str | None]
    created_at: str
    join: NotRequired[str | None]
    pattern: str
    updated_at: str


class ChannelRulesList(TypedDict):
    channels: list[ChannelRules]


class CodeRequest(TypedDict, closed=True):
    code: str


class CodeRequest2(TypedDict, closed=True):
    code: str


class CollectionRules(TypedDict, closed=True):
    create: NotRequired[str | None]
    delete: NotRequired[str | None]
    read: NotRequired[str | None]
    update: NotRequired[str | None]


class CountResult(TypedDict):
    count: int


class Counts(TypedDict):
    dead: int
    ok: int
    pending: int
    removed: int
    retrying: int


class CreateBucket(TypedDict, closed=True):
    allowed_types: NotRequired[list[str]]
    max_object_size: NotRequired[int | None]
    name: str
    public: NotRequired[bool]
    rules: NotRequired[BucketRules]


class CreateDocument(TypedDict, closed=True):
    data: dict[str, Any]
    id: NotRequired[str | None]


class CreateKey(TypedDict, closed=True):
    name: str


class CreateUser(TypedDict, closed=True):
    claims: NotRequired[dict[str, Any]]
    data: NotRequired[dict[str, Any]]
    email: str
    email_verified: NotRequired[bool]
    password: NotRequired[str | None]


class Delivery(TypedDict):
    attempts: int
    created_at: str
    duration_ms: NotRequired[float | None]
    error: NotRequired[str | None]
    event_id: str
    id: str
    next_attempt_at: NotRequired[str | None]
    response_status: NotRequired[int | None]
    status: str
    type: str
    updated_at: str


class DeliveryPage(TypedDict):
    deliveries: list[Delivery]
    next_cursor: NotRequired[str | None]


class DeviceResult(TypedDict):
    attempts: int
    delivery_id: str
    error: NotRequired[str | None]
    kind: str
    removed: bool
    response_status: NotRequired[int | None]
    status: str
    subscription_id: str
    updated_at: str


class DocumentBody(TypedDict):
    """
    The document of API.md, as serialized.
    """

    collection: str
    created_at: str
    data: dict[str, Any]
    id: str
    updated_at: str
    version: int


class DocumentList(TypedDict):
    documents: list[DocumentBody]
    next_cursor: NotRequired[str | None]


class EmailRequest(TypedDict, closed=True):
    email: str


class Empty(TypedDict, closed=True):
    pass


class EnrolRequest(TypedDict, closed=True):
    """
    Proof that the caller holds the account (see `reauthenticate`).
    """

    current_password: NotRequired[str | None]


class Enrolment(TypedDict):
    otpauth_url: str
    recovery_codes: list[str]
    secret: str


class Error1(TypedDict):
    code: Literal[
        'invalid_argument',
        'unauthenticated',
        'permission_denied',
        'not_found',
        'method_not_allowed',
        'already_exists',
        'aborted',
        'failed_precondition',
        'payload_too_large',
        'unsupported_media_type',
        'range_not_satisfiable',
        'validation_failed',
        'rate_limited',
        'internal',
        'unavailable',
        'deadline_exceeded',
    ]
    details: dict[str, Any]
    message: str


class Error(TypedDict):
    error: Error1


class Execution(TypedDict):
    attempts: int
    delivery: NotRequired[str | None]
    duration_ms: float
    error: NotRequired[str | None]
    function: str
    id: str
    logs: list[str]
    started_at: str
    status: str
    trigger: str
    version: int


class ExecutionPage(TypedDict):
    executions: list[Execution]
    next_cursor: NotRequired[str | None]


class Explained(TypedDict):
    """
    One condition of a rule and what it evaluated to on its own.
    """

    column: int
    depth: int
    error: NotRequired[str | None]
    expr: str
    line: int
    value: NotRequired[bool | None]


FilterItem: TypeAlias = str


FilterItem4: TypeAlias = list[Any]


FilterItem5: TypeAlias = str


FilterItem11: TypeAlias = list[Any]


FilterItem12: TypeAlias = str


class Function(TypedDict):
    """
    What an admin saves: the kind, the script and what it listens to.
    """

    collection: NotRequired[str | None]
    created_at: str
    cron: NotRequired[str | None]
    event: NotRequired[str | None]
    invoke: NotRequired[str | None]
    kind: str
    name: str
    source: str
    timezone: NotRequired[str | None]
    updated_at: str
    version: int


class FunctionList(TypedDict):
    functions: list[Function]


class Health(TypedDict):
    status: str
    version: str


FieldItem: TypeAlias = str


Field: TypeAlias = tuple[FieldItem, Literal['asc', 'desc']]


class IndexDef(TypedDict, closed=True):
    """
    An index: `{"fields": [["age", "asc"], ["city", "desc"]], "unique": false}`.
    """

    fields: list[Field]
    unique: NotRequired[bool]


class LogCaller(TypedDict):
    id: NotRequired[str | None]
    kind: str


class LogEntry(TypedDict):
    caller: LogCaller
    duration_ms: float
    error: NotRequired[str | None]
    id: str
    ip: str
    method: str
    path: str
    request_id: str
    route: str
    status: int
    time: str


class LogPage(TypedDict):
    entries: list[LogEntry]
    next_cursor: NotRequired[str | None]


class LoginRequest(TypedDict, closed=True):
    email: str
    password: str


class LoginRequest2(TypedDict, closed=True):
    email: str
    password: str


class MagicLinkRequest(TypedDict, closed=True):
    email: str
    redirect_to: NotRequired[str | None]


MailInfo = TypedDict(
    'MailInfo',
    {
        'from': str,
        'transport': str,
    },
)


class MemberInfo(TypedDict):
    here: bool
    id: str
    presence: Any


Metric: TypeAlias = Literal['requests', 'errors', 'client_errors', 'latency_p95']


class MfaChallenge(TypedDict):
    mfa_required: bool
    mfa_token: str


class NewServiceKey(TypedDict):
    """
    A key just created: the only time its secret is shown.
    """

    id: str
    key: str
    name: str


class Notification(TypedDict, closed=True):
    """
    What a device shows.
    """

    body: NotRequired[str]
    data: NotRequired[dict[str, Any] | None]
    title: str
    url: NotRequired[str | None]


class ObjectInfo(TypedDict):
    """
    The object of API.md.
    """

    bucket: str
    content_type: str
    created_at: str
    etag: str
    metadata: dict[str, str]
    path: str
    size: int
    updated_at: str


class ObjectList(TypedDict):
    next_cursor: NotRequired[str | None]
    objects: list[ObjectInfo]


OperationName: TypeAlias = Literal['read', 'create', 'update', 'delete']


class OutboxItem(TypedDict):
    created_at: str
    subject: str
    text: str
    to: str
    token: NotRequired[str | None]


class PatchRequest(TypedDict, closed=True):
    """
    Transforms apply in this order: `data` (a JSON Merge Patch), then
    `increment`, `server_time`, `array_union`, `array_remove`. Keys of the
    transforms are dotted paths.
    """

    array_remove: NotRequired[dict[str, list[Any]]]
    array_union: NotRequired[dict[str, list[Any]]]
    data: NotRequired[dict[str, Any]]
    increment: NotRequired[dict[str, float]]
    server_time: NotRequired[list[str]]


class Point(TypedDict):
    time: str
    value: NotRequired[float | None]


class Provider(TypedDict):
    client_id: str
    issuer: NotRequired[str | None]
    kind: str
    name: str
    scopes: list[str]


class PutChannelRules(TypedDict, closed=True):
    broadcast: NotRequired[str | None]
    join: NotRequired[str | None]


class Queued(TypedDict):
    id: str


Range: TypeAlias = Literal['1h', '24h', '7d']


class RealtimeClientMessage1(TypedDict, closed=True):
    """
    A new access token for this socket (after a refresh).
    """

    token: str
    type: Literal['auth']


class RealtimeClientMessage2(TypedDict, closed=True):
    """
    Watch one document (`doc_id`) or a collection's documents matching
    `where`; `*` watches every collection (admins and service keys only).
    """

    collection: str
    doc_id: NotRequired[str | None]
    id: str
    resume_from: NotRequired[int | None]
    snapshot: NotRequired[bool]
    type: Literal['subscribe']
    where: NotRequired[Any]


class RealtimeClientMessage3(TypedDict, closed=True):
    """
    A message from the client on `/v1/realtime`.
    """

    id: str
    type: Literal['unsubscribe']


class RealtimeClientMessage4(TypedDict, closed=True):
    """
    Join a broadcast channel with an optional presence state.
    """

    channel: str
    presence: NotRequired[Any]
    type: Literal['join']


class RealtimeClientMessage5(TypedDict, closed=True):
    """
    A message from the client on `/v1/realtime`.
    """

    channel: str
    type: Literal['leave']


class RealtimeClientMessage6(TypedDict, closed=True):
    """
    A message from the client on `/v1/realtime`.
    """

    channel: str
    event: str
    payload: NotRequired[Any]
    type: Literal['broadcast']


class RealtimeClientMessage7(TypedDict, closed=True):
    """
    A message from the client on `/v1/realtime`.
    """

    id: NotRequired[Any]
    type: Literal['ping']


RealtimeClientMessage: TypeAlias = (
    RealtimeClientMessage1
    | RealtimeClientMessage2
    | RealtimeClientMessage3
    | RealtimeClientMessage4
    | RealtimeClientMessage5
    | RealtimeClientMessage6
    | RealtimeClientMessage7
)


class RealtimeServerMessage1(TypedDict):
    """
    The subscription is live: every change after `seq` reaches it.
    """

    id: str
    seq: int
    type: Literal['subscribed']


class RealtimeServerMessage2(TypedDict):
    """
    The matching documents when the subscription asked for a snapshot.
    """

    documents: list[Any]
    id: str
    seq: int
    type: Literal['snapshot']


class RealtimeServerMessage3(TypedDict):
    """
    One committed change, in commit order. `delete` carries the last
    document; a document that enters the subscription's view arrives as
    `create`, one that leaves it as `delete`.
    """

    document: Any
    id: str
    op: ChangeOp
    seq: int
    type: Literal['change']


class RealtimeServerMessage4(TypedDict):
    """
    Nothing for this subscription at or before `seq` is still to come:
    `resume_from: seq` is a valid position. Sent every 30 s at most (and
    at least four times per change retention) while the feed moves on.
    """

    id: str
    seq: int
    type: Literal['checkpoint']


class RealtimeServerMessage5(TypedDict):
    """
    A message from the server on `/v1/realtime`.
    """

    id: str
    type: Literal['unsubscribed']


class RealtimeServerMessage6(TypedDict):
    """
    A new token from `auth` is in effect.
    """

    type: Literal['authenticated']


class RealtimeServerMessage7(TypedDict):
    """
    Joined a channel; `presence` is every member's state by member id.
    """

    channel: str
    member_id: str
    presence: dict[str, Any]
    type: Literal['joined']


class RealtimeServerMessage8(TypedDict):
    """
    A message from the server on `/v1/realtime`.
    """

    channel: str
    type: Literal['left']


class RealtimeServerMessage9(TypedDict):
    """
    Members who joined, changed their state, or left.
    """

    channel: str
    joins: dict[str, Any]
    leaves: dict[str, Any]
    type: Literal['presence']


RealtimeServerMessage10 = TypedDict(
    'RealtimeServerMessage10',
    {
        'channel': str,
        'event': str,
        'from': str,
        'payload': Any,
        'type': Literal['broadcast'],
    },
)


class RealtimeServerMessage11(TypedDict):
    """
    A message from the server on `/v1/realtime`.
    """

    id: NotRequired[Any]
    type: Literal['pong']


class RealtimeServerMessage12(TypedDict):
    """
    `code` from the API's error table, or `slow_consumer`,
    `resync_required`; `id` names the subscription, `channel` the channel.
    """

    channel: NotRequired[str | None]
    code: str
    id: NotRequired[str | None]
    message: str
    type: Literal['error']


RealtimeServerMessage: TypeAlias = (
    RealtimeServerMessage1
    | RealtimeServerMessage2
    | RealtimeServerMessage3
    | RealtimeServerMessage4
    | RealtimeServerMessage5
    | RealtimeServerMessage6
    | RealtimeServerMessage7
    | RealtimeServerMessage8
    | RealtimeServerMessage9
    | RealtimeServerMessage10
    | RealtimeServerMessage11
    | RealtimeServerMessage12
)


class RefreshRequest(TypedDict, closed=True):
    refresh_token: str


class Register2(TypedDict, closed=True):
    """
    An FCM registration token (Android, iOS through Firebase, or the web).
    """

    kind: Literal['fcm']
    token: str


class Register3(TypedDict, closed=True):
    """
    An APNs device token and the app's bundle id.
    """

    kind: Literal['apns']
    token: str
    topic: str


class Report(TypedDict):
    counts: Counts
    created_at: str
    devices: NotRequired[int | None]
    id: str
    next_cursor: NotRequired[str | None]
    notification: Any
    rate_limited: list[str]
    results: list[DeviceResult]
    sender: str
    status: str
    ttl: int
    urgency: str
    user_ids: list[str]


class RequestFields(TypedDict, closed=True):
    """
    `request` as a playground run describes it; missing fields get defaults.
    """

    ip: NotRequired[str | None]
    method: NotRequired[str | None]
    operation: NotRequired[str | None]
    time: NotRequired[int | None]


class ResetRequest(TypedDict, closed=True):
    password: str
    token: str


RoleName: TypeAlias = Literal['owner', 'developer', 'viewer']


class RuleCase(TypedDict):
    """
    A saved case, as stored and shown.
    """

    auth: Any
    caller: str
    collection: str
    created_at: str
    data: Any
    doc: Any
    expect_allowed: bool
    name: str
    operation: str
    request: RequestFields
    updated_at: str


class RuleCaseList(TypedDict):
    cases: list[RuleCase]


class Run(TypedDict):
    """
    One scheduled or requested backup, as `GET /v1/admin/backups` shows it.
    """

    database_bytes: int
    error: NotRequired[str | None]
    location: str
    missing: int
    name: str
    objects: int
    ok: bool
    seconds: float
    started_at: str


class RunCases(TypedDict, closed=True):
    rules: NotRequired[dict[str, str | None]]


class SaveFunction(TypedDict, closed=True):
    collection: NotRequired[str | None]
    cron: NotRequired[str | None]
    event: NotRequired[str | None]
    invoke: NotRequired[str | None]
    kind: Literal['http', 'trigger', 'schedule']
    source: str
    timezone: NotRequired[str | None]


class SaveWebhook(TypedDict, closed=True):
    enabled: NotRequired[bool | None]
    events: list[str]
    secret: NotRequired[str | None]
    url: str


class Sent(TypedDict):
    transport: str


class Series(TypedDict):
    points: list[Point]
    step_minutes: int


class ServiceKey(TypedDict):
    created_at: str
    id: str
    last_used_at: NotRequired[str | None]
    name: str


class SessionInfo(TypedDict):
    created_at: str
    current: bool
    id: str
    ip: NotRequired[str | None]
    last_used_at: str
    user_agent: NotRequired[str | None]


class SessionList(TypedDict):
    sessions: list[SessionInfo]


class SetDocument(TypedDict, closed=True):
    data: dict[str, Any]


class Setting(TypedDict):
    key: str
    secret: bool
    set: bool
    value: Any


class SignRequest(TypedDict, closed=True):
    expires_in: int


class Signed(TypedDict):
    url: str


class SignupRequest(TypedDict, closed=True):
    data: NotRequired[dict[str, Any]]
    email: str
    password: str


class Started(TypedDict):
    name: str


class Stats(TypedDict):
    collections: int
    connections: int
    documents: int
    documents_by_collection: dict[str, int]
    objects: int
    users: int


class Status(TypedDict):
    """
    Scheduled backups: their settings, the next slot, the last run.
    """

    backups: list[str]
    keep: int
    last: NotRequired[Run | None]
    next_at: NotRequired[str | None]
    running: bool
    schedule: NotRequired[str | None]
    to: NotRequired[str | None]


class Subscription(TypedDict):
    address: str
    created_at: str
    id: str
    kind: str
    topic: NotRequired[str | None]
    updated_at: str
    user_id: str


class SubscriptionInfo(TypedDict):
    collection: str
    doc_id: NotRequired[str | None]
    id: str


class SubscriptionList(TypedDict):
    subscriptions: list[Subscription]


class SubscriptionPage(TypedDict):
    next_cursor: NotRequired[str | None]
    subscriptions: list[Subscription]


class TestMail(TypedDict, closed=True):
    to: str


class TokenRequest(TypedDict, closed=True):
    token: str


class UpdateAdmin(TypedDict, closed=True):
    email: NotRequired[str | None]
    password: NotRequired[str | None]
    role: NotRequired[RoleName | None]


class UpdateBucket(TypedDict, closed=True):
    allowed_types: NotRequired[list[str] | None]
    max_object_size: NotRequired[int | None]
    public: NotRequired[bool | None]
    rules: NotRequired[BucketRules | None]


class UpdateCollection(TypedDict, closed=True):
    indexes: NotRequired[list[IndexDef] | None]
    rules: NotRequired[CollectionRules | None]
    schema: NotRequired[dict[str, Any] | bool | None]


class UpdateUser(TypedDict, closed=True):
    current_password: NotRequired[str | None]
    data: NotRequired[dict[str, Any] | None]
    email: NotRequired[str | None]
    password: NotRequired[str | None]


Urgency: TypeAlias = Literal['very-low', 'low', 'normal', 'high']


class User(TypedDict):
    """
    The user object of API.md. Never carries a hash or a secret.
    """

    anonymous: bool
    claims: dict[str, Any]
    created_at: str
    data: dict[str, Any]
    disabled: bool
    email: NotRequired[str | None]
    email_verified: bool
    id: str
    mfa_enabled: bool
    updated_at: str


class UserPage(TypedDict):
    next_cursor: NotRequired[str | None]
    users: list[User]


class VapidKey(TypedDict):
    public_key: str


class VerifyRequest(TypedDict, closed=True):
    code: str
    mfa_token: str


class VerifyRequest2(TypedDict, closed=True):
    code: str
    mfa_token: str


class Version(TypedDict):
    """
    What an admin saves: the kind, the script and what it listens to.
    """

    collection: NotRequired[str | None]
    created_at: str
    cron: NotRequired[str | None]
    event: NotRequired[str | None]
    invoke: NotRequired[str | None]
    kind: str
    source: str
    timezone: NotRequired[str | None]
    version: int


class WebKeys(TypedDict, closed=True):
    auth: str
    p256dh: str


class Webhook(TypedDict):
    created_at: str
    disabled_reason: NotRequired[str | None]
    enabled: bool
    events: list[str]
    name: str
    secret: NotRequired[str | None]
    updated_at: str
    url: str


class WebhookList(TypedDict):
    webhooks: list[Webhook]


class Admin(TypedDict):
    created_at: str
    email: str
    id: str
    mfa_enabled: bool
    role: RoleName


class AdminList(TypedDict):
    admins: list[Admin]


class AdminSession(TypedDict):
    access_token: str
    admin: Admin
    expires_in: int


class BatchResults(TypedDict):
    results: list[DocumentBody | None]


class Bucket(TypedDict):
    allowed_types: list[str]
    created_at: str
    max_object_size: NotRequired[int | None]
    name: str
    public: bool
    rules: BucketRules
    updated_at: str


class BucketList(TypedDict):
    buckets: list[Bucket]


class ChannelInfo(TypedDict):
    members: list[MemberInfo]
    name: str


class Collection(TypedDict):
    created_at: str
    indexes: list[IndexDef]
    name: str
    rules: CollectionRules
    schema: NotRequired[Any]
    updated_at: str


class CollectionList(TypedDict):
    collections: list[Collection]


class ConnectionInfo(TypedDict):
    caller: str
    caller_id: NotRequired[str | None]
    channels: list[str]
    connected_at: str
    email: NotRequired[str | None]
    id: str
    ip: str
    subscriptions: list[SubscriptionInfo]


class CreateAdmin(TypedDict, closed=True):
    email: str
    password: str
    role: RoleName


class CreateCollection(TypedDict, closed=True):
    indexes: NotRequired[list[IndexDef]]
    name: str
    rules: NotRequired[CollectionRules]
    schema: NotRequired[dict[str, Any] | bool | None]


class Effective(TypedDict):
    mail: MailInfo
    oauth_providers: list[Provider]
    settings: list[Setting]


class EvaluateRequest1(TypedDict, closed=True):
    """
    Either `rule` (a rule's text) or `collection` + `operation` (that
    collection's stored rule), with the context to evaluate it in.
    """

    auth: NotRequired[Any]
    collection: NotRequired[None]
    data: NotRequired[Any]
    doc: NotRequired[Any]
    explain: NotRequired[bool]
    object: NotRequired[Any]
    operation: NotRequired[str | None]
    request: NotRequired[RequestFields]
    rule: str


class EvaluateRequest2(TypedDict, closed=True):
    """
    Either `rule` (a rule's text) or `collection` + `operation` (that
    collection's stored rule), with the context to evaluate it in.
    """

    auth: NotRequired[Any]
    collection: str
    data: NotRequired[Any]
    doc: NotRequired[Any]
    explain: NotRequired[bool]
    object: NotRequired[Any]
    operation: Literal['read', 'create', 'update', 'delete'] | None
    request: NotRequired[RequestFields]
    rule: NotRequired[None]


EvaluateRequest: TypeAlias = EvaluateRequest1 | EvaluateRequest2


class EvaluateResponse(TypedDict):
    allowed: bool
    error: NotRequired[str | None]
    explain: NotRequired[list[Explained] | None]
    operations: int


class FunctionWithVersions(TypedDict):
    """
    What an admin saves: the kind, the script and what it listens to.
    """

    collection: NotRequired[str | None]
    created_at: str
    cron: NotRequired[str | None]
    event: NotRequired[str | None]
    invoke: NotRequired[str | None]
    kind: str
    name: str
    source: str
    timezone: NotRequired[str | None]
    updated_at: str
    version: int
    versions: list[Version]


class Inspection(TypedDict):
    channels: list[ChannelInfo]
    connections: list[ConnectionInfo]
    node: str
    sockets: int
    truncated: bool


class KeyList(TypedDict):
    keys: list[ServiceKey]


class Outbox(TypedDict):
    items: list[OutboxItem]


class PutRuleCase(TypedDict, closed=True):
    auth: NotRequired[dict[str, Any] | None]
    caller: NotRequired[str | None]
    data: NotRequired[Any]
    doc: NotRequired[dict[str, Any] | None]
    expect_allowed: bool
    operation: OperationName
    request: NotRequired[RequestFields]


class Register1(TypedDict, closed=True):
    """
    What the browser's `PushSubscription.toJSON()` gives.
    """

    endpoint: str
    expirationTime: NotRequired[float | None]
    keys: WebKeys
    kind: Literal['webpush']


Register: TypeAlias = Register1 | Register2 | Register3


class SendBody1(TypedDict, closed=True):
    notification: Notification
    ttl: NotRequired[int | None]
    urgency: NotRequired[Urgency | None]
    user_id: str
    user_ids: NotRequired[list[str] | None]


class SendBody2(TypedDict, closed=True):
    notification: Notification
    ttl: NotRequired[int | None]
    urgency: NotRequired[Urgency | None]
    user_id: NotRequired[str | None]
    user_ids: list[str]


SendBody: TypeAlias = SendBody1 | SendBody2


class SessionTokens(TypedDict):
    """
    The session object of API.md, returned by every sign-in.
    """

    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str
    user: User


AdminLogin: TypeAlias = AdminSession | MfaChallenge


class CountRequest(TypedDict, closed=True):
    where: NotRequired[Filter | None]


Filter1 = TypedDict(
    'Filter1',
    {
        'and': list["Filter"],
    },
    closed=True,
)


Filter2 = TypedDict(
    'Filter2',
    {
        'or': list["Filter"],
    },
    closed=True,
)


Filter3 = TypedDict(
    'Filter3',
    {
        'and': list["Filter"],
    },
    closed=True,
)


Filter4 = TypedDict(
    'Filter4',
    {
        'or': list["Filter"],
    },
    closed=True,
)


Filter: TypeAlias = (
    tuple[FilterItem, Literal['==', '!='], Any]
    | tuple[FilterItem, Literal['<', '<=', '>', '>='], float | str]
    | tuple[FilterItem, Literal['array_contains'], Any]
    | tuple[FilterItem, Literal['in', 'not_in', 'array_contains_any'], FilterItem4]
    | tuple[FilterItem5, Literal['exists'], bool]
    | tuple[FilterItem5, Literal['prefix'], str]
    | Filter1
    | Filter2
    | list[
        tuple[FilterItem5, Literal['==', '!='], Any]
        | tuple[FilterItem5, Literal['<', '<=', '>', '>='], float | str]
        | tuple[FilterItem5, Literal['array_contains'], Any]
        | tuple[FilterItem5, Literal['in', 'not_in', 'array_contains_any'], FilterItem11]
        | tuple[FilterItem12, Literal['exists'], bool]
        | tuple[FilterItem12, Literal['prefix'], str]
        | Filter3
        | Filter4
    ]
)


class QueryRequest(TypedDict, closed=True):
    after: NotRequired[str | None]
    limit: NotRequired[int | None]
    order_by: NotRequired[Any]
    select: NotRequired[list[str] | None]
    where: NotRequired[Filter | None]
