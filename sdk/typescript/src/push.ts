import { BasaltError } from "./errors.js";
import type { Core } from "./http.js";
import { encodeSegment } from "./http.js";
import type { AnyDatabase } from "./documents.js";
import type { CoreClient } from "./base.js";
import type { components } from "./generated/openapi.js";

type Register = components["schemas"]["Register"];
type WireDevice = components["schemas"]["Subscription"];

/** Where a device's notifications go: a browser (Web Push), FCM or APNs. */
export type PushKind = Register["kind"];

/** A device registered for the signed-in user's notifications. */
export interface PushDevice {
  id: string;
  kind: PushKind;
  /** The Web Push endpoint, or the FCM or APNs token. */
  address: string;
  /** The APNs topic (the app's bundle id); null for other kinds. */
  topic: string | null;
  userId: string;
  createdAt: string;
  updatedAt: string;
}

/** A mobile app's token: `{kind: "fcm", token}` or `{kind: "apns", token, topic}`. */
export type MobileDevice = Extract<Register, { kind: "fcm" | "apns" }>;

/** The part of a browser's `PushSubscription` the SDK uses. */
export interface BrowserPushSubscription {
  readonly endpoint: string;
  readonly options?: { readonly applicationServerKey: ArrayBuffer | null };
  toJSON(): { endpoint?: string; expirationTime?: number | null; keys?: Record<string, string> };
  unsubscribe(): Promise<boolean>;
}

/**
 * The part of a `ServiceWorkerRegistration` the SDK uses (a real one fits; so does a stand-in,
 * which is how the Node tests drive `subscribe`).
 */
export interface PushRegistration {
  readonly pushManager: {
    getSubscription(): Promise<BrowserPushSubscription | null>;
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array<ArrayBuffer> }): Promise<BrowserPushSubscription>;
  };
}

export interface PushSubscribeOptions {
  /** The service worker registration to subscribe (it must have, or soon get, an active worker). */
  registration?: PushRegistration;
  /** Without `registration`: the service worker script to register (default `/sw.js`). */
  serviceWorker?: string;
}

function toDevice(d: WireDevice): PushDevice {
  return {
    id: d.id,
    kind: d.kind as PushKind,
    address: d.address,
    topic: d.topic ?? null,
    userId: d.user_id,
    createdAt: d.created_at,
    updatedAt: d.updated_at,
  };
}

function pushError(code: string, message: string, cause?: unknown): BasaltError {
  return new BasaltError({ status: 0, code, message, cause });
}

/** A browser API's failure as a BasaltError (a refusal is `permission_denied`). */
function browserError(e: unknown): BasaltError {
  if (e instanceof BasaltError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if ((e as { name?: unknown })?.name === "NotAllowedError") return pushError("permission_denied", `the browser refused: ${message}`, e);
  return pushError("unavailable", `the browser could not subscribe to push: ${message}`, e);
}

/** The bytes of base64url text (padding optional). */
export function base64UrlBytes(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function sameBytes(a: ArrayBuffer, b: Uint8Array): boolean {
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

type NotificationGlobal = { permission: string; requestPermission(): Promise<string> };
const notifications = () => (globalThis as { Notification?: NotificationGlobal }).Notification;
const serviceWorkers = () => (globalThis as { navigator?: { serviceWorker?: ServiceWorkerContainer } }).navigator?.serviceWorker;

/**
 * Resolves once `permission` is granted. Asked before anything is awaited, so the prompt still
 * counts as part of the click that called `subscribe` (Safari and Firefox only prompt then).
 */
function askPermission(): Promise<void> {
  const n = notifications();
  // No Notification API (some web views, a stand-in registration on Node): pushManager.subscribe
  // decides on its own, and its refusal becomes the same error below.
  if (!n) return Promise.resolve();
  const denied = () =>
    pushError("permission_denied", "notifications are blocked for this site (the user denied the permission, or the browser did)");
  if (n.permission === "granted") return Promise.resolve();
  if (n.permission === "denied") return Promise.reject(denied());
  return Promise.resolve(n.requestPermission()).then((answer) => {
    if (answer !== "granted") throw denied();
  });
}

/**
 * Registers `script` and resolves when that registration has an active worker. Its own worker is
 * awaited rather than `navigator.serviceWorker.ready`, which only resolves for a worker whose scope
 * covers the current page and would wait forever for one registered for another scope.
 */
async function registerWorker(container: ServiceWorkerContainer, script: string): Promise<ServiceWorkerRegistration> {
  let reg: ServiceWorkerRegistration;
  try {
    reg = await container.register(script);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw pushError("failed_precondition", `the service worker ${script} could not be registered: ${message}`, e);
  }
  if (reg.active) return reg;
  const worker = reg.installing ?? reg.waiting;
  if (!worker) return container.ready;
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (worker.state === "activated") resolve();
      else if (worker.state === "redundant") reject(pushError("failed_precondition", `the service worker ${script} failed to install`));
    };
    worker.addEventListener("statechange", check);
    check();
  });
  return reg;
}

/**
 * `basalt.push`: this device's notifications. `subscribe()` in a browser (Web Push), `register()`
 * with a token in a mobile app; `list()` and `unsubscribe(id)` for the signed-in user's devices.
 */
export class Push {
  constructor(private readonly core: Core) {}

  /** True where `subscribe()` can work: a browser with service workers and the Push API. */
  supported(): boolean {
    return serviceWorkers() !== undefined && typeof (globalThis as { PushManager?: unknown }).PushManager === "function";
  }

  /** The server's VAPID public key (base64url): the `applicationServerKey` of a Web Push subscription. */
  async vapidKey(): Promise<string> {
    const r = await this.core.send<components["schemas"]["VapidKey"]>("get_push_vapid", "/v1/push/vapid", { auth: false });
    return r.public_key;
  }

  /**
   * Subscribes this browser to Web Push and registers it for the signed-in user. Call it from a
   * click: it asks the notification permission first when the user has not answered yet.
   * Rejects with code `unsupported` without the Push API, `permission_denied` when notifications
   * are blocked, `unavailable` when the browser's push service could not be reached.
   */
  subscribe(options: PushSubscribeOptions = {}): Promise<PushDevice> {
    const container = serviceWorkers();
    if (!options.registration && (!container || !this.supported())) {
      return Promise.reject(
        pushError("unsupported", "Web Push needs a browser with service workers and the Push API (on mobile apps, use push.register with a token)"),
      );
    }
    if (options.registration && !options.registration.pushManager) {
      return Promise.reject(pushError("unsupported", "this service worker registration has no pushManager"));
    }
    // Before any await: see askPermission.
    return this.subscribeWith(askPermission(), options, container).catch((e: unknown) => {
      throw browserError(e);
    });
  }

  private async subscribeWith(permission: Promise<void>, options: PushSubscribeOptions, container: ServiceWorkerContainer | undefined): Promise<PushDevice> {
    await permission;
    const reg = options.registration ?? (await registerWorker(container!, options.serviceWorker ?? "/sw.js"));
    const key = base64UrlBytes(await this.vapidKey());
    let sub = await reg.pushManager.getSubscription();
    const oldKey = sub?.options?.applicationServerKey;
    // A subscription made for another key (the server's VAPID key was replaced) cannot carry this
    // server's pushes: drop it, here and on the server. A browser that does not say which key
    // its subscription has keeps it.
    if (sub && oldKey && !sameBytes(oldKey, key)) {
      const stale = sub.endpoint;
      await sub.unsubscribe();
      sub = null;
      const old = (await this.list()).find((d) => d.kind === "webpush" && d.address === stale);
      if (old) await this.remove(old.id);
    }
    sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    const json = sub.toJSON();
    const p256dh = json.keys?.["p256dh"];
    const auth = json.keys?.["auth"];
    if (!p256dh || !auth) throw pushError("internal", "the browser's push subscription has no encryption keys");
    return this.post({ kind: "webpush", endpoint: json.endpoint ?? sub.endpoint, keys: { p256dh, auth }, expirationTime: json.expirationTime ?? null });
  }

  /** Registers a mobile app's FCM or APNs token for the signed-in user (again: the same device). */
  register(device: MobileDevice): Promise<PushDevice> {
    return this.post(device);
  }

  private async post(body: Register): Promise<PushDevice> {
    const d = await this.core.send<WireDevice>("post_push_subscriptions", "/v1/push/subscriptions", { method: "POST", body });
    return toDevice(d);
  }

  /** The signed-in user's devices. */
  async list(): Promise<PushDevice[]> {
    const r = await this.core.send<components["schemas"]["SubscriptionList"]>("get_push_subscriptions", "/v1/push/subscriptions");
    return r.subscriptions.map(toDevice);
  }

  /**
   * Removes one of the signed-in user's devices (`not_found` for another's). When it is this
   * browser's Web Push subscription, the browser's subscription is ended too.
   */
  async unsubscribe(id: string, options: { registration?: PushRegistration } = {}): Promise<void> {
    const container = serviceWorkers();
    if (!options.registration && !container) {
      await this.remove(id);
      return;
    }
    const device = (await this.list()).find((d) => d.id === id);
    await this.remove(id);
    if (device?.kind !== "webpush") return;
    try {
      const registrations: readonly PushRegistration[] = options.registration ? [options.registration] : await container!.getRegistrations();
      for (const reg of registrations) {
        const sub = await reg.pushManager?.getSubscription();
        if (sub?.endpoint === device.address) await sub.unsubscribe();
      }
    } catch (e) {
      throw browserError(e);
    }
  }

  private async remove(id: string): Promise<void> {
    await this.core.send("delete_push_subscriptions_by_id", `/v1/push/subscriptions/${encodeSegment(id)}`, {
      method: "DELETE",
      responseType: "none",
    });
  }
}

const apis = new WeakMap<object, Push>();

/** The push notifications of a client: `getPush(basalt).subscribe()`. */
export function getPush<DB extends AnyDatabase>(client: CoreClient<DB>): Push {
  let api = apis.get(client);
  if (!api) {
    api = new Push(client.core);
    apis.set(client, api);
  }
  return api;
}
