/** What graphql-ws keeps per socket that the counts need: its operations by id. */
type SocketContext = { readonly subscriptions: Readonly<Record<string, unknown>> };

/**
 * The open graphql-ws connections of one endpoint, counted at scrape time from
 * graphql-ws's own record of each socket's operations, so the counts cannot drift from
 * what is open: nothing is incremented that a missed close would leave behind.
 */
export function createSocketStats() {
  const open = new Set<SocketContext>();
  return {
    /** A socket whose connection_init was accepted. */
    opened(context: SocketContext): void {
      open.add(context);
    },
    closed(context: SocketContext): void {
      open.delete(context);
    },
    connections: () => open.size,
    /** Operations streaming results: graphql-ws holds null until an operation's stream starts. */
    subscriptions(): number {
      let count = 0;
      for (const context of open) {
        for (const operation of Object.values(context.subscriptions)) {
          if (operation !== null) count += 1;
        }
      }
      return count;
    },
  };
}

export type SocketStats = ReturnType<typeof createSocketStats>;
