/**
 * A TCP relay in front of a server whose connections a test can cut, as a network drop would: `cut()` closes
 * every open connection and refuses new ones until `restore()`. Chromium's offline emulation (CDP
 * Network.emulateNetworkConditions) cannot stand in for this: it fails new requests but leaves an
 * established Server-Sent Events stream flowing.
 */
import type { Socket } from "bun";

export interface TcpProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Closes every open connection and refuses new ones. */
  cut(): void;
  /** Accepts and relays connections again. */
  restore(): void;
  /** The connections open now stop relaying (bytes are dropped, nothing is closed: a peer that stopped answering); new ones relay. */
  stall(): void;
  close(): void;
}

interface Pair {
  upstream?: Socket<Pair>;
  downstream: Socket<Pair>;
  /** Bytes the client sent before the upstream connection was open. */
  early: Uint8Array[];
  /** Relays nothing any more (stall()). */
  stalled?: boolean;
}

/** Bytes a socket has not taken yet (write() takes what fits), sent on its `drain`. */
const backlog = new WeakMap<Socket<Pair>, Uint8Array>();
function send(socket: Socket<Pair>, chunk: Uint8Array) {
  const queued = backlog.get(socket);
  const bytes = queued ? Buffer.concat([queued, chunk]) : chunk;
  const written = Math.max(socket.write(bytes), 0);
  if (written < bytes.length) backlog.set(socket, bytes.subarray(written));
  else backlog.delete(socket);
}
const flush = (socket: Socket<Pair>) => send(socket, new Uint8Array(0));

export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  let refusing = false;
  const open = new Set<Pair>();
  const drop = (pair: Pair) => {
    open.delete(pair);
    pair.upstream?.end();
    pair.downstream.end();
  };
  const listener = Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(down) {
        if (refusing) return void down.end();
        const pair: Pair = { downstream: down, early: [] };
        down.data = pair;
        open.add(pair);
        Bun.connect<Pair>({
          hostname: target.hostname,
          port: target.port,
          socket: {
            open(up) {
              up.data = pair;
              pair.upstream = up;
              for (const chunk of pair.early.splice(0)) send(up, chunk);
            },
            data: (_up, chunk) => void (pair.stalled || send(pair.downstream, chunk)),
            drain: (up) => flush(up),
            close: () => drop(pair),
            error: () => drop(pair),
          },
        }).catch(() => drop(pair));
      },
      data(down, chunk) {
        const pair = down.data;
        if (pair.stalled) return;
        if (pair.upstream) send(pair.upstream, chunk);
        else pair.early.push(new Uint8Array(chunk));
      },
      drain: (down) => flush(down),
      close: (down) => down.data && drop(down.data),
      error: (down) => down.data && drop(down.data),
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    port: listener.port,
    cut() {
      refusing = true;
      for (const pair of [...open]) drop(pair);
    },
    restore() {
      refusing = false;
    },
    stall() {
      for (const pair of open) pair.stalled = true;
    },
    close() {
      for (const pair of [...open]) drop(pair);
      listener.stop(true);
    },
  };
}
