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

/** Seconds between `iat` and `exp` of a JWT, or null when it cannot be read. */
function tokenLifetimeMs(jwt: string): number | null {
  try {
    const part = jwt.split(".")[1];
    if (!part) return null;
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as { iat?: number; exp?: number };
    if (typeof json.iat === "number" && typeof json.exp === "number") return (json.exp - json.iat) * 1000;
  } catch {
    // not a JWT we can read
  }
  return null;
}

function parseStored(raw: string | null | undefined): Session | null {
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (s && typeof s.accessToken === "string" && typeof s.refreshToken === "string") return s;
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

function closedError(): BasaltError {
  return new BasaltError({ status: 0, code: "closed", message: "the client is closed" });
}

export interface AuthConfig {
  storage: AuthStorage;
  storageKey: string;
  autoRefresh: boolean;
}

/** `basalt.auth`: sign-in flows, the current session and its refresh. */
export class Auth {
  private current: Session | null = null;
  private listeners = new Set<AuthListener>();
  private inflight: Promise<Session | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private channel: BroadcastChannel | null = null;
  private spent = new Set<string>();
  private closed = false;
  private readonly ready: Promise<void>;
  private readonly onStorageEvent = (e: StorageEvent) => {
    if (e.key === this.config.storageKey) void this.syncFromStorage();
  };

  /** MFA: enroll, confirm, verify a sign-in, disable. */
  readonly mfa: {
    enroll: () => Promise<MfaEnrolment>;
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
      enroll: async () => {
        const r = await this.core.send<components["schemas"]["Enrolment"]>(
          "post_auth_mfa_totp_enroll",
          "/v1/auth/mfa/totp/enroll",
          { method: "POST" },
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
      const g = globalThis as { addEventListener?: (t: string, f: (e: StorageEvent) => void) => void };
      g.addEventListener?.("storage", this.onStorageEvent);
      if (typeof BroadcastChannel !== "undefined") {
        this.channel = new BroadcastChannel(`basalt-auth:${config.storageKey}`);
        this.channel.onmessage = () => void this.syncFromStorage();
      }
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
   * refresh (a refresh waiting for the lock gives it up, rejecting with code `closed`), tells its
   * listeners nothing and writes nothing to the storage. One exception: a refresh request already
   * sent stores the session it brings back (if the storage still holds the token it spent), since
   * that token is spent for every client sharing the storage.
   */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.channel?.close();
    this.channel = null;
    const g = globalThis as { removeEventListener?: (t: string, f: (e: StorageEvent) => void) => void };
    if (!isNode) g.removeEventListener?.("storage", this.onStorageEvent);
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
      const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
      if (held && !stored) {
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
      const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
      if (stored?.refreshToken === token) await this.config.storage.setItem(this.config.storageKey, JSON.stringify(next));
      this.current = next;
      return next;
    }
    await this.adopt(next, "token_refreshed", true);
    return next;
  }

  /** After "already used": another client refreshed with this token; wait for its session. */
  private async awaitOtherWriter(token: string): Promise<Session | null> {
    for (let i = 0; i < 20 && !this.closed; i++) {
      const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
      if (stored && stored.refreshToken !== token) {
        await this.adopt(stored, "token_refreshed", false);
        return stored;
      }
      if (!stored) {
        await this.adopt(null, "signed_out", false);
        return null;
      }
      await sleep(100);
    }
    return null;
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
    const stored = parseStored(await this.config.storage.getItem(this.config.storageKey));
    const held = this.current;
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
      this.channel?.postMessage({ type: "changed" });
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
