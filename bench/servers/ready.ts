import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Tells the bench runner which port to load: one JSON line on stdout. */
export function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ ready: port })}\n`);
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
