// One realtime socket for a screen, with the admin token; reconnects with jittered backoff.
import { token } from './api';
import { tokenListeners } from './session.svelte';

export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type Message = { type: string; [k: string]: unknown };

export class Socket {
  status: Status = 'connecting';
  private ws: WebSocket | null = null;
  private attempt = 0;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private onMessage: (m: Message) => void,
    private onOpen: () => void,
    private onStatus: (s: Status) => void = () => {},
  ) {
    tokenListeners.add(this.renew);
    this.connect();
  }

  // A new token (after signing in again): reconnect with it; onOpen subscribes again.
  private renew = () => {
    this.attempt = 0;
    // Not 'open' while the old socket closes: what the screen shows (and waits
    // for) is the socket with the new token.
    if (this.ws) this.set('reconnecting');
    this.ws?.close();
  };

  private set(s: Status) {
    this.status = s;
    this.onStatus(s);
  }

  private connect() {
    if (this.closed) return;
    // Signed out (the token stopped working): try again once there is a token.
    if (!token()) {
      this.set('reconnecting');
      this.timer = setTimeout(() => this.connect(), 1000);
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/v1/realtime?token=${encodeURIComponent(token() ?? '')}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.set('open');
      this.onOpen();
    };
    ws.onmessage = (e) => {
      try {
        this.onMessage(JSON.parse(e.data as string) as Message);
      } catch {
        /* not JSON: ignore */
      }
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.closed) return;
      this.set('reconnecting');
      const delay = Math.min(10_000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  send(m: Message): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  close(): void {
    tokenListeners.delete(this.renew);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close();
    this.set('closed');
  }
}
