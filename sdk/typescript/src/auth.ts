import { BasaltError } from "./errors.js";
import type { Core } from "./http.js";
import { encodeSegment } from "./http.js";
import { withLock } from "./lock.js";
import type { AuthStorage } from "./storage.js";
import type { components } from "./generated/openapi.js";

type WireUser = components["schemas"]["User"];
type WireSession = components["schemas"]["SessionTokens"];

/** The user object, with camelCase keys. */
export interface User {
  id: string;
  email: string | null;
  emailVerified: boolean;
  anonymous: boolean;
  mfaEnabled: boolean;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  data: Record<string, unknown>;
  claims: Record<string, unknown>;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in milliseconds since the epoch. */
  expiresAt: number;
  user: User;
}

export interface MfaRequired {
  mfaRequired: true;
  mfaToken: string;
}

export type AuthEvent = "signed_in" | "signed_out" | "token_refreshed" | "user_updated";
export type AuthListener = (event: AuthEvent, session: Session | null) => void;

export interface SessionInfo {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

export interface MfaEnrolment {
  secret: string;
  otpauthUrl: string;
  recoveryCodes: string[];
}

export function toUser(u: WireUser): User {
  const w = u as WireUser & Record<string, unknown>;
  return {
    id: w.id,
    email: (w.email as string | null | undefined) ?? null,
    emailVerified: Boolean(w.email_verified),
    anonymous: Boolean(w.anonymous),
    mfaEnabled: Boolean(w.mfa_enabled),
    disabled: Boolean(w.disabled),
    createdAt: w.created_at,
    updatedAt: w.updated_at,
    data: (w.data as Record<string, unknown> | undefined) ?? {},
    claims: (w.claims as Record<string, unknown> | undefined) ?? {},
  };
}

function toSession(s: WireSession): Session {
  return {
    accessToken: s.access_token,
    refreshToken: s.refresh_token,
    expiresAt: Date.now() + Number(s.expires_in) * 1000,
    user: toUser(s.user),
  };
}

/** Why the server refused a refresh token: `details.reason` of its 401. */
export type RefreshFailure = "already_used" | "reused" | "ended" | "invalid" | "disabled";

/** The reason of a refused refresh; servers without `details.reason` are read by their message. */
export function refreshFailure(e: BasaltError): RefreshFailure {
  const reason = e.details["reason"];
  if (reason === "already_used" || reason === "reused" || reason === "ended" || reason === "invalid" || reason === "disabled") return reason;
  return /already used/i.test(e.message) ? "already_used" : "invalid";
}

/** The claims of a JWT, or an empty object when it cannot be read. */
function jwtClaims(jwt: string): { iat?: unknown; exp?: unknown; sid?: unknown } {
  try {
    const b64 = (jwt.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/");
    return (JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as object | null) ?? {};
  } catch {
    return {}; // not a JWT we can read
  }
}

/** Milliseconds between `iat` and `exp` of a JWT, or null when it cannot be read. */
function tokenLifetimeMs(jwt: string): number | null {
  const { iat, exp } = jwtClaims(jwt);
  return typeof iat === "number" && typeof exp === "number" ? (exp - iat) * 1000 : null;
}

/** The server session a session belongs to: its user and the `sid` of its access token. */
function sessionOf(s: Session): string {
  return `${s.user.id} ${String(jwtClaims(s.accessToken).sid)}`;
}

/**
 * What clients on one channel (`basalt-auth:<storageKey>`) tell each other. `hello` / `here` /
 * `bye`: a client opens, answers a hello, goes. `ask`: "I hold the lock and am about to spend a
 * refresh token of session `of`: what do you hold?", answered by `answer` with the answerer's
 * session when it is of the same server session (else null). `changed`: the storage was written.
 */
interface ChannelMessage {
  type: "hello" | "here" | "bye" | "ask" | "answer" | "changed";
  from?: string;
  nonce?: string;
  of?: string;
  session?: Session | null;
}

function isSession(s: unknown): s is Session {
  const x = s as Session | null;
  return typeof x?.accessToken === "string" && typeof x.refreshToken === "string" && typeof x.user?.id === "string";
}

function parseStored(raw: string | null | undefined): Session | null {
  if (!raw) return null;
  try {
    const s: unknown = JSON.parse(raw);
    if (isSession(s)) return s;
  } catch {
    // a damaged entry counts as none
  }
  return null;
}

const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
const isNode = typeof proc?.versions?.node === "string";

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

const sleep = (ms: number) => new Promise<void>((r) => unref(setTimeout(r, ms)));

/** How long the refresh timer waits before trying again after a round that did not end well. */
const RETRY_MS = 5_000;

/** How long a client holding the refresh lock waits for its peers' answers before it refreshes. */
const ASK_MS = 150;

function closedError(): BasaltError {
  return new BasaltError({ status: 0, code: "closed", message: "the client is closed" });
}

export interface AuthConfig {
  storage: AuthStorage;
  storageKey: string;
  autoRefresh: boolean;
  /**
   * Talk to the other clients of this storage key over a BroadcastChannel (default: in browsers,
   * where the clients of one origin share localStorage; never by default on Node, where a process
   * may hold many clients of unrelated storages).
   */
  channel?: boolean;
}

/** `basalt.auth`: sign-in flows, the current session and its refresh. */
export class Auth {
  private current: Session | null = null;
  private listeners = new Set<AuthListener>();
  private inflight: Promise<Session | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private channel: BroadcastChannel | null = null;
  /** This client on the channel, and the clients heard there that have not said bye. */
  private readonly id = Math.random().toString(36).slice(2);
  private peers = new Set<string>();
  private asks = new Map<string, (from: string, s: Session | null | undefined) => void>();
  private asked = 0;
  private spent = new Set<string>();
  private closed = false;
  private readonly ready: Promise<void>;
  private readonly onStorageEvent = (e: Event) => {
    if ((e as StorageEvent).key === this.config.storageKey) void this.syncFromStorage();
  };
  // A page that goes (or into the back-forward cache) leaves the channel, and says hello again
  // when it comes back. (A tab that goes quiet otherwise, say frozen, is dropped by the first ask
  // it leaves unanswered.)
  private readonly onPageHide = () => this.post({ type: "bye" });
  private readonly onPageShow = (e: Event) => {
    if ((e as PageTransitionEvent).persisted) this.post({ type: "hello" });
  };

  /** MFA: enroll, confirm, verify a sign-in, disable. */
  readonly mfa: {
    enroll: (args?: { currentPassword?: string }) => Promise<MfaEnrolment>;
    confirm: (code: string) => Promise<User>;
    verify: (args: { mfaToken: string; code: string }) => Promise<Session>;
    disable: (code?: string) => Promise<User>;
  };

  constructor(
    private readonly core: Core,
    private readonly config: AuthConfig,
  ) {
    this.ready = this.load();
    this.mfa = {
      // The server asks for the password of an account that has one (a sign-in less than
      // 10 minutes old for one that has none): an access token alone cannot turn MFA on.
      enroll: async (args) => {
        const r = await this.core.send<components["schemas"]["Enrolment"]>(
          "post_auth_mfa_totp_enroll",
          "/v1/auth/mfa/totp/enroll",
          args?.currentPassword === undefined
            ? { method: "POST" }
            : { method: "POST", body: { current_password: args.currentPassword } },
        );
        return { secret: r.secret, otpauthUrl: r.otpauth_url, recoveryCodes: r.recovery_codes };
      },
      confirm: async (code) => {
        const u = await this.core.send<WireUser>("post_auth_mfa_totp_confirm", "/v1/auth/mfa/totp/confirm", {
          method: "POST",
          body: { code },
        });
        return this.userChanged(u);
      },
      verify: async ({ mfaToken, code }) => {
        const s = await this.core.send<WireSession>("post_auth_mfa_verify", "/v1/auth/mfa/verify", {
          method: "POST",
          body: { mfa_token: mfaToken, code },
          auth: false,
        });
        return this.signedIn(s);
      },
      // The server turns MFA off for a session that passed the second factor (aal 2); it takes
      // no code, so `code` is accepted for callers that collect one and is not sent.
      disable: async () => {
        const u = await this.core.send<WireUser>("delete_auth_mfa_totp", "/v1/auth/mfa/totp", { method: "DELETE" });
        return this.userChanged(u);
      },
    };
    if (!isNode) {
      const g = globalThis as { addEventListener?: (t: string, f: (e: Event) => void) => void };
      g.addEventListener?.("storage", this.onStorageEvent);
      g.addEventListener?.("pagehide", this.onPageHide);
      g.addEventListener?.("pageshow", this.onPageShow);
    }
    if ((config.channel ?? !isNode) && typeof BroadcastChannel !== "undefined") {
      this.channel = new BroadcastChannel(`basalt-auth:${config.storageKey}`);
      (this.channel as { unref?: () => void }).unref?.(); // Node: the channel keeps no process alive
      this.channel.onmessage = (e: MessageEvent<ChannelMessage | null>) => this.onMessage(e.data);
      this.post({ type: "hello" });
    }
  }

  /** The current session, or null. */
  get session(): Session | null {
    return this.current;
  }

  /** The signed-in user, or null. */
  get user(): User | null {
    return this.current?.user ?? null;
  }

  /** Resolves once the stored session (if any) has been read. */
  initialized(): Promise<void> {
    return this.ready;
  }

  onChange(listener: AuthListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- flows ------------------------------------------------------------------------------

  /** Creates a user; `session` is null when the server requires email confirmation first. */
  async signUp(args: { email: string; password: string; data?: Record<string, unknown> }): Promise<{
    user: User;
    session: Session | null;
  }> {
    const r = await this.core.send<WireSession | { user: WireUser; session: null }>("post_auth_signup", "/v1/auth/signup", {
      method: "POST",
      body: { email: args.email, password: args.password, ...(args.data ? { data: args.data } : {}) },
      auth: false,
    });
    if ("access_token" in r) {
      const session = await this.signedIn(r);
      return { user: session.user, session };
    }
    return { user: toUser(r.user), session: null };
  }

  /** Resolves to a session, or to `{mfaRequired: true, mfaToken}` for a user with MFA on. */
  async signIn(args: { email: string; password: string }): Promise<Session | MfaRequired> {
    const r = await this.core.send<WireSession | { mfa_required: true; mfa_token: string }>(
      "post_auth_login",
      "/v1/auth/login",
      { method: "POST", body: { email: args.email, password: args.password }, auth: false },
    );
    if ("mfa_required" in r && r.mfa_required) return { mfaRequired: true, mfaToken: r.mfa_token };
    return this.signedIn(r as WireSession);
  }

  async signInAnonymously(): Promise<Session> {
    const r = await this.core.send<WireSession>("post_auth_anonymous", "/v1/auth/anonymous", {
      method: "POST",
      body: {},
      auth: false,
    });
    return this.signedIn(r);
  }

  /** Ends the session at the server and forgets it here. */
  async signOut(): Promise<void> {
    await this.ready;
    const held = this.current;
    if (!held) return;
    let failure: unknown = null;
    try {
      await this.core.send("post_auth_logout", "/v1/auth/logout", {
        method: "POST",
        headers: { authorization: `Bearer ${held.accessToken}` },
        auth: false,
        responseType: "none",
      });
    } catch (e) {
      // A session the server already ended is signed out all the same.
      if (!(e instanceof BasaltError && e.status === 401)) failure = e;
    }
    await this.adopt(null, "signed_out", true);
    if (failure) throw failure;
  }

  /** Exchanges the refresh token for a new session now. */
  async refresh(): Promise<Session> {
    await this.ready;
    if (this.closed) throw closedError();
    const s = await this.refreshOnce(true);
    if (!s) throw new BasaltError({ status: 401, code: "unauthenticated", message: "not signed in" });
    return s;
  }

  async sendMagicLink(args: { email: string; redirectTo?: string }): Promise<void> {
    await this.core.send("post_auth_magic_link", "/v1/auth/magic-link", {
      method: "POST",
      body: { email: args.email, ...(args.redirectTo ? { redirect_to: args.redirectTo } : {}) },
      auth: false,
      responseType: "none",
    });
  }

  async verifyMagicLink(token: string): Promise<Session | MfaRequired> {
    const r = await this.core.send<WireSession | { mfa_required: true; mfa_token: string }>(
      "post_auth_magic_link_verify",
      "/v1/auth/magic-link/verify",
      { method: "POST", body: { token }, auth: false },
    );
    if ("mfa_required" in r && r.mfa_required) return { mfaRequired: true, mfaToken: r.mfa_token };
    return this.signedIn(r as WireSession);
  }

  async sendPasswordReset(args: { email: string }): Promise<void> {
    await this.core.send("post_auth_password_forgot", "/v1/auth/password/forgot", {
      method: "POST",
      body: { email: args.email },
      auth: false,
      responseType: "none",
    });
  }

  /** Sets a new password with the token of a reset mail. Every session of the user ends. */
  async resetPassword(args: { token: string; password: string }): Promise<void> {
    await this.core.send("post_auth_password_reset", "/v1/auth/password/reset", {
      method: "POST",
      body: { token: args.token, password: args.password },
      auth: false,
      responseType: "none",
    });
  }

  /** Mails a verification link to the signed-in user (or to `email`). */
  async sendVerification(args?: { email?: string }): Promise<void> {
    await this.ready;
    const email = args?.email ?? this.current?.user.email;
    if (!email) {
      throw new BasaltError({ status: 0, code: "invalid_argument", message: "no email: sign in or pass {email}" });
    }
    await this.core.send("post_auth_verify_send", "/v1/auth/verify/send", {
      method: "POST",
      body: { email },
      auth: false,
      responseType: "none",
    });
  }

  async verifyEmail(token: string): Promise<User> {
    const u = await this.core.send<WireUser>("post_auth_verify", "/v1/auth/verify", {
      method: "POST",
      body: { token },
      auth: false,
    });
    if (this.current && this.current.user.id === u.id) return this.userChanged(u);
    return toUser(u);
  }

  /** The address to send the browser to for a sign-in with an OAuth / OpenID Connect provider. */
  oauthUrl(provider: string, opts: { redirectTo: string }): string {
    return `${this.core.url}/v1/auth/oauth/${encodeSegment(provider)}/authorize?redirect_to=${encodeURIComponent(opts.redirectTo)}`;
  }

  /**
   * Finishes an OAuth sign-in on the page it came back to: reads the fragment, stores the
   * session and removes the fragment from the address bar. Resolves to null when the URL
   * carries no sign-in result.
   */
  async handleRedirect(url?: string): Promise<Session | MfaRequired | null> {
    const loc = (globalThis as { location?: Location }).location;
    const href = url ?? loc?.href;
    if (!href) return null;
    const hashAt = href.indexOf("#");
    if (hashAt < 0) return null;
    const f = new URLSearchParams(href.slice(hashAt + 1));
    const known = f.has("access_token") || f.has("error") || f.has("mfa_required");
    if (!known) return null;
    const hist = (globalThis as { history?: History }).history;
    if (loc && hist && loc.href === href) {
      hist.replaceState(hist.state, "", loc.pathname + loc.search);
    }
    const error = f.get("error");
    if (error) {
      throw new BasaltError({ status: 0, code: error, message: f.get("error_description") ?? error });
    }
    if (f.get("mfa_required") === "true") return { mfaRequired: true, mfaToken: f.get("mfa_token") ?? "" };
    const accessToken = f.get("access_token") ?? "";
    const u = await this.core.send<WireUser>("get_auth_user", "/v1/auth/user", {
      headers: { authorization: `Bearer ${accessToken}` },
      auth: false,
    });
    return this.signedIn({
      access_token: accessToken,
      refresh_token: f.get("refresh_token") ?? "",
      expires_in: Number(f.get("expires_in") ?? "0"),
      token_type: "bearer",
      user: u,
    });
  }

  /** Reads the signed-in user fresh from the server. */
  async getUser(): Promise<User> {
    const u = await this.core.send<WireUser>("get_auth_user", "/v1/auth/user");
    return this.userChanged(u);
  }

  /**
   * Changes the profile (`data` is merged), email or password. A password change needs
   * `currentPassword` (except an anonymous user's first one) and ends the user's other sessions.
   */
  async updateUser(args: {
    data?: Record<string, unknown>;
    email?: string;
    password?: string;
    currentPassword?: string;
  }): Promise<User> {
    const body: Record<string, unknown> = {};
    if (args.data !== undefined) body["data"] = args.data;
    if (args.email !== undefined) body["email"] = args.email;
    if (args.password !== undefined) body["password"] = args.password;
    if (args.currentPassword !== undefined) body["current_password"] = args.currentPassword;
    const u = await this.core.send<WireUser>("patch_auth_user", "/v1/auth/user", { method: "PATCH", body });
    return this.userChanged(u);
  }

  /** The user's open sessions (devices). */
  async sessions(): Promise<SessionInfo[]> {
    const r = await this.core.send<components["schemas"]["SessionList"]>("get_auth_sessions", "/v1/auth/sessions");
    return r.sessions.map((s) => {
      const w = s as unknown as Record<string, unknown>;
      return {
        id: String(w["id"]),
        createdAt: String(w["created_at"]),
        lastUsedAt: String(w["last_used_at"]),
        userAgent: (w["user_agent"] as string | null | undefined) ?? null,
        ip: (w["ip"] as string | null | undefined) ?? null,
        current: Boolean(w["current"]),
      };
    });
  }

  /** Ends one session ("sign out that phone"). Ending the current one signs out here too. */
  async endSession(id: string): Promise<void> {
    await this.core.send("delete_auth_sessions_by_id", `/v1/auth/sessions/${encodeSegment(id)}`, {
      method: "DELETE",
      responseType: "none",
    });
  }

  // ---- tokens -----------------------------------------------------------------------------

  /** The access token to send: refreshed first when it is about to expire (never once closed). */
  async accessToken(): Promise<string | null> {
    await this.ready;
    const s = this.current;
    if (!s) return null;
    if (this.config.autoRefresh && !this.closed && this.expiringSoon(s)) {
      try {
        const fresh = await this.refreshOnce(false);
        return fresh?.accessToken ?? null;
      } catch (e) {
        // Network errors and 5xx keep the session: use the token we have (it may still work).
        if (e instanceof BasaltError && (e.status === 0 || e.status >= 500)) return this.current?.accessToken ?? null;
        throw e;
      }
    }
    return s.accessToken;
  }

  /**
   * Stops timers and listeners; the stored session stays. From here on this client starts no
   * refresh (a refresh waiting for the lock, or for the other tabs' answers, gives it up, rejecting
   * with code `closed`), tells its listeners nothing, answers no other tab and writes nothing to
   * the storage. One exception: a refresh request already
   * sent stores the session it brings back (if the storage still holds the token it spent), since
   * that token is spent for every client sharing the storage.
   */
  close(): void {
    this.post({ type: "bye" });
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.channel?.close();
    this.channel = null;
    for (const answer of this.asks.values()) answer("", undefined);
    const g = globalThis as { removeEventListener?: (t: string, f: (e: Event) => void) => void };
    if (!isNode) {
      g.removeEventListener?.("storage", this.onStorageEvent);
      g.removeEventListener?.("pagehide", this.onPageHide);
      g.removeEventListener?.("pageshow", this.onPageShow);
    }
  }

  private post(m: ChannelMessage): void {
    try {
      this.channel?.postMessage({ ...m, from: this.id });
    } catch {
      // a channel closed under us, or a session that cannot be cloned: the others read storage
    }
  }

  private onMessage(m: ChannelMessage | null): void {
    if (this.closed || !m || typeof m !== "object") return;
    const from = typeof m.from === "string" ? m.from : null;
    if (m.type === "bye") {
      if (from) this.peers.delete(from);
      return;
    }
    if (from) this.peers.add(from);
    if (m.type === "hello") this.post({ type: "here" });
    else if (m.type === "ask") {
      // Answered from memory, not storage: what this client holds is what it last stored or
      // adopted. A refresh's winner holds its new session before it lets the lock go.
      const held = this.current;
      this.post({ type: "answer", nonce: m.nonce, session: held && sessionOf(held) === m.of ? held : null });
    } else if (m.type === "answer") {
      if (from && typeof m.nonce === "string") this.asks.get(m.nonce)?.(from, m.session);
    } else if (m.type !== "here") void this.syncFromStorage(); // "changed", or a client of an older version
  }

  /**
   * Inside the lock, before spending `s.refreshToken`: asks the other clients of this storage key
   * what they hold. A browser tab's localStorage is a copy that another tab's writes reach a
   * little later, by another path than the lock: the tab that refreshed a moment ago may have
   * stored its new session and let the lock go while this tab still reads the old one. Resolves to
   * a peer's newer session of the same server session, or null once every known peer answered
   * otherwise (or after ASK_MS). Without peers it resolves at once.
   */
  private askPeers(s: Session): Promise<Session | null> {
    if (!this.channel || this.peers.size === 0) return Promise.resolve(null);
    const nonce = `${this.id}:${++this.asked}`;
    const waiting = new Set(this.peers);
    return new Promise<Session | null>((resolve) => {
      const done = (found: Session | null) => {
        clearTimeout(timer);
        this.asks.delete(nonce);
        resolve(found);
      };
      const timer = setTimeout(() => {
        // Peers that did not answer in time are asked no more until they speak again.
        for (const p of waiting) this.peers.delete(p);
        done(null);
      }, ASK_MS);
      unref(timer);
      this.asks.set(nonce, (from, other) => {
        if (!from) return done(null);
        waiting.delete(from);
        if (
          isSession(other) &&
          other.refreshToken !== s.refreshToken &&
          sessionOf(other) === sessionOf(s) &&
          // Newer, never older: presenting an older token of the session would revoke it.
          other.expiresAt > s.expiresAt
        ) {
          done(other);
        } else if (waiting.size === 0) done(null);
      });
      this.post({ type: "ask", nonce, of: sessionOf(s) });
    });
  }

  /** Stores `next` where the other clients look, if the storage still holds the spent `token`. */
  private async replaceStored(token: string, next: Session): Promise<void> {
    const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
    if (stored?.refreshToken === token) await this.config.storage.setItem(this.config.storageKey, JSON.stringify(next));
  }

  private marginMs(s: Session): number {
    const lifetime = tokenLifetimeMs(s.accessToken) ?? 3_600_000;
    return Math.min(60_000, Math.max(500, lifetime / 4));
  }

  private expiringSoon(s: Session): boolean {
    return s.expiresAt - Date.now() <= this.marginMs(s);
  }

  /**
   * One refresh at a time, in this process and (with Web Locks) across tabs. Inside the lock
   * the stored session is read again: if another client already refreshed, its session is
   * adopted instead of sending the old token. `force` refreshes whatever the expiry; `dueToken`
   * (from the timer) refreshes if the current session is still the one the timer was set for.
   */
  private refreshOnce(force: boolean, dueToken?: string): Promise<Session | null> {
    if (this.closed) return Promise.reject(closedError());
    if (this.inflight) return this.inflight;
    const run = withLock(this.config.storage, `basalt-refresh:${this.config.storageKey}`, async () => {
      // Closed while waiting for the lock: hand it on without reading or sending anything.
      if (this.closed) throw closedError();
      const held = this.current;
      const stored = await this.readStored();
      if (held && stored === null) {
        await this.adopt(null, "signed_out", false);
        return null;
      }
      if (stored && (!held || stored.refreshToken !== held.refreshToken)) {
        await this.adopt(stored, held ? "token_refreshed" : "signed_in", false);
        if (!this.expiringSoon(stored)) return stored;
      }
      const s = this.current;
      if (!s) return null;
      if (!force && s.refreshToken !== dueToken && !this.expiringSoon(s)) return s;
      return this.exchange(s);
    });
    this.inflight = run;
    const clear = () => {
      if (this.inflight === run) this.inflight = null;
    };
    run.then(clear, clear);
    return run;
  }

  private async exchange(s: Session): Promise<Session | null> {
    const token = s.refreshToken;
    if (this.spent.has(token)) {
      // Never present a token the server called already used: wait for whoever holds the new one.
      return this.awaitOtherWriter(token);
    }
    const newer = await this.askPeers(s);
    // Closed while asking: nothing was sent, so give the lock up as a waiter would.
    if (this.closed) throw closedError();
    if (newer) {
      // Another tab spent this token a moment ago and holds its successor: take that one. The
      // storage gets it too if it still holds the spent token (a storage of this client's own).
      this.spent.add(token);
      await this.replaceStored(token, newer);
      await this.adopt(newer, "token_refreshed", false);
      return newer;
    }
    let r: WireSession;
    try {
      r = await this.core.send<WireSession>("post_auth_refresh", "/v1/auth/refresh", {
        method: "POST",
        body: { refresh_token: token },
        auth: false,
      });
    } catch (e) {
      // Closed meanwhile: what the refusal means is for the clients still open to find out.
      if (this.closed) throw e;
      if (e instanceof BasaltError && (e.status === 401 || (e.status === 403 && e.details["reason"] === "disabled"))) {
        this.spent.add(token);
        if (refreshFailure(e) === "already_used") {
          // Another client (a tab, or a process sharing this storage) rotated this token a
          // moment ago: take its session instead of signing out.
          const other = await this.awaitOtherWriter(token);
          if (other) return other;
        }
        // ended, reused (the server revoked the session), invalid, disabled (403), or already
        // used by a client whose session never reached this storage: the session is over here.
        await this.adopt(null, "signed_out", true);
      } else if (e instanceof BasaltError && (e.status === 0 || e.status >= 500)) {
        // Again soon if the token is due; a forced refresh of one that is not waits for its time.
        this.schedule(this.expiringSoon(s) ? RETRY_MS : undefined);
      }
      throw e;
    }
    this.spent.add(token);
    const next = toSession(r);
    if (this.closed) {
      // The server has rotated the token: keep its successor where the other clients look,
      // unless one of them has stored a session since.
      await this.replaceStored(token, next);
      this.current = next;
      return next;
    }
    await this.adopt(next, "token_refreshed", true);
    return next;
  }

  /** After "already used": another client refreshed with this token; wait for its session. */
  private async awaitOtherWriter(token: string): Promise<Session | null> {
    for (let i = 0; i < 20 && !this.closed; i++) {
      const stored = await this.readStored();
      if (stored && stored.refreshToken !== token) {
        await this.adopt(stored, "token_refreshed", false);
        return stored;
      }
      if (stored === null) {
        await this.adopt(null, "signed_out", false);
        return null;
      }
      await sleep(100);
    }
    return null;
  }

  /**
   * The stored session, or undefined while the storage still shows a refresh token this client
   * has spent: a view another client's write has not reached yet (a tab's localStorage that
   * another tab's write reaches late, after this tab took that session from it over the channel).
   * Such a session is never taken back: presenting its token again could revoke the session.
   */
  private async readStored(): Promise<Session | null | undefined> {
    const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
    return stored && this.spent.has(stored.refreshToken) ? undefined : stored;
  }

  private async load(): Promise<void> {
    const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
    if (stored) {
      this.current = stored;
      this.schedule();
    }
  }

  private async syncFromStorage(): Promise<void> {
    await this.ready;
    if (this.closed) return;
    const stored = await this.readStored();
    const held = this.current;
    if (stored === undefined) return;
    if (!stored && held) await this.adopt(null, "signed_out", false);
    else if (stored && !held) await this.adopt(stored, "signed_in", false);
    else if (stored && held && stored.refreshToken !== held.refreshToken) {
      await this.adopt(stored, stored.user.id === held.user.id ? "token_refreshed" : "signed_in", false);
    } else if (stored && held && stored.user.updatedAt !== held.user.updatedAt) {
      await this.adopt(stored, "user_updated", false);
    }
  }

  private async signedIn(r: WireSession): Promise<Session> {
    await this.ready;
    const s = toSession(r);
    await this.adopt(s, "signed_in", true);
    return s;
  }

  private async userChanged(u: WireUser): Promise<User> {
    await this.ready;
    const user = toUser(u);
    if (this.current && this.current.user.id === user.id) {
      await this.adopt({ ...this.current, user }, "user_updated", true);
    }
    return user;
  }

  /** Makes `s` the current session; `write` stores it (and tells other tabs) first. */
  private async adopt(s: Session | null, event: AuthEvent, write: boolean): Promise<void> {
    if (this.closed) return;
    if (write) {
      if (s) await this.config.storage.setItem(this.config.storageKey, JSON.stringify(s));
      else await this.config.storage.removeItem(this.config.storageKey);
      this.post({ type: "changed" });
    }
    const before = this.current;
    this.current = s;
    if (!s && !before) return;
    this.schedule();
    for (const l of [...this.listeners]) {
      try {
        l(event, s);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  private schedule(delayOverride?: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.current;
    if (!s || !this.config.autoRefresh || this.closed) return;
    const delay = delayOverride ?? Math.max(0, s.expiresAt - this.marginMs(s) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      // The refresh of this session is due, whatever Date.now() says: a timer may fire a
      // millisecond or more before its time by the wall clock, and a refresh that asked
      // expiringSoon() then never came (nothing set the timer again). Inside the lock a session
      // another client stored, or this one adopted, meanwhile is taken instead.
      const again = () => {
        // A round that ended with neither a new session (which sets the timer) nor a sign-out.
        if (!this.timer) this.schedule(RETRY_MS);
      };
      this.refreshOnce(false, s.refreshToken).then(again, again);
    }, delay);
    unref(this.timer);
  }
}
