// Who is signed in, with which role, and whether the admin token has stopped working.
// Screens read `can` to decide which write controls to show; the server refuses the writes
// of a role anyway, so this only spares a viewer buttons that would fail.
export type Role = 'owner' | 'developer' | 'viewer';
export interface Me {
  id?: string;
  email: string;
  role: Role;
  mfa_enabled?: boolean;
}

export const session = $state<{ me: Me | null; loaded: boolean; expired: boolean; token: string | null }>({
  me: null,
  loaded: false,
  expired: false,
  token: null,
});

/** Called with each new admin token (a sign-in, or signing in again after one expired). */
export const tokenListeners = new Set<(token: string) => void>();

/** What the signed-in admin's role may do. A server without GET /v1/admin/me has no roles:
 *  every admin may do everything there. */
export const can = {
  /** Change the project: collections, documents, users, files, channels. */
  get write(): boolean {
    return session.me?.role !== 'viewer';
  },
  /** Manage admins and service keys. */
  get manage(): boolean {
    return !session.me || session.me.role === 'owner';
  },
};
