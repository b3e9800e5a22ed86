/** Raw HTTP over a TCP socket, for requests `fetch` refuses to send (bad framing, huge Content-Length, odd methods). */
import { connect } from "node:net";

/** One raw exchange with the server at host:port; resolves with everything read until it closes (or 10 s pass). */
export async function rawHttp(port: number, host: string, text: string): Promise<string> {
  const sock = connect(port, host);
  let out = "";
  sock.on("data", (d) => (out += d.toString("latin1")));
  sock.on("error", () => {});
  const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  sock.write(text);
  await Promise.race([closed, Bun.sleep(10_000)]);
  sock.destroy();
  return out;
}
