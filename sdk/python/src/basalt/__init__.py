"""Basalt's Python client: `Client` (sync) and `AsyncClient` (async), one surface.

from basalt import Client, AsyncClient, BasaltError
"""

from ._async.auth import AsyncAuth, AsyncMfa
from ._async.client import AsyncClient
from ._async.documents import AsyncCollection
from ._async.files import AsyncBucket, AsyncStorage
from ._async.functions import AsyncFunctions
from .errors import BasaltError
from .generated.sync.auth import Auth, Mfa
from .generated.sync.client import Client
from .generated.sync.documents import Collection
from .generated.sync.files import Bucket, Storage
from .generated.sync.functions import Functions
from .models import (
    BroadcastEvent,
    ChangeEvent,
    Document,
    Filter,
    MfaEnrolment,
    MfaRequired,
    ObjectInfo,
    ObjectList,
    OrderBy,
    Page,
    PresenceEvent,
    ResetEvent,
    Session,
    SessionInfo,
    SignUpResult,
    SnapshotEvent,
    SubscriptionEvent,
    User,
)
from .realtime import AsyncChannel, AsyncLiveQuery, AsyncRealtime, AsyncSubscription, RealtimeStatus
from .realtime_sync import Channel, LiveQuery, Realtime, Subscription
from .session_storage import AuthStorage, FileStorage, MemoryStorage

__version__ = "0.1.0"

__all__ = [
    "AsyncAuth",
    "AsyncBucket",
    "AsyncChannel",
    "AsyncClient",
    "AsyncCollection",
    "AsyncFunctions",
    "AsyncLiveQuery",
    "AsyncMfa",
    "AsyncRealtime",
    "AsyncStorage",
    "AsyncSubscription",
    "Auth",
    "AuthStorage",
    "BasaltError",
    "BroadcastEvent",
    "Bucket",
    "ChangeEvent",
    "Channel",
    "Client",
    "Collection",
    "Document",
    "FileStorage",
    "Filter",
    "Functions",
    "LiveQuery",
    "MemoryStorage",
    "Mfa",
    "MfaEnrolment",
    "MfaRequired",
    "ObjectInfo",
    "ObjectList",
    "OrderBy",
    "Page",
    "PresenceEvent",
    "Realtime",
    "RealtimeStatus",
    "ResetEvent",
    "Session",
    "SessionInfo",
    "SignUpResult",
    "SnapshotEvent",
    "Storage",
    "Subscription",
    "SubscriptionEvent",
    "User",
    "__version__",
]
