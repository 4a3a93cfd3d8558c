import { createServer, connect, type Server, type Socket } from "node:net";

/** A TCP proxy on 127.0.0.1 that the test can cut (every connection dropped) and restore. */
export interface Proxy {
  url: string;
  /** Drops every open connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  /** Sends new connections to another port (an open one keeps its upstream until cut). */
  retarget(port: number): void;
  /** Bytes of HTTP request lines seen, for counting requests to a path. */
  requests: string[];
  /**
   * The same requests with what the server answered, in the order they were sent: the status of
   * the response (null until it came) and the `details.reason` of an error body, when the first
   * chunk of the response carried one.
   */
  exchanges: Exchange[];
  close(): Promise<void>;
}

export interface Exchange {
  request: string;
  at: number;
  status: number | null;
  reason: string | null;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let down = false;
  let target = targetPort;
  const requests: string[] = [];
  const exchanges: Exchange[] = [];
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(target, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    // HTTP/1.1 answers the requests of one connection in order: the next response is the oldest
    // request's that has none yet.
    const waiting: Exchange[] = [];
    client.on("data", (d: Buffer) => {
      const line = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP/.exec(d.subarray(0, 2048).toString("latin1"));
      if (line) {
        const request = `${line[1]} ${line[2]}`;
        requests.push(request);
        const x: Exchange = { request, at: Date.now(), status: null, reason: null };
        exchanges.push(x);
        waiting.push(x);
      }
    });
    upstream.on("data", (d: Buffer) => {
      const head = d.subarray(0, 4096).toString("latin1");
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (!status) return;
      const x = waiting.shift();
      if (!x) return;
      x.status = Number(status[1]);
      x.reason = /"reason"\s*:\s*"([^"]*)"/.exec(head)?.[1] ?? null;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", done);
    upstream.on("error", done);
    client.on("close", done);
    upstream.on("close", done);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    exchanges,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    retarget(port: number) {
      target = port;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
