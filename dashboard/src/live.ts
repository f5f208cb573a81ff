import { useEffect, useState } from "preact/hooks";
import type { Api, ConnectionState } from "./api.js";
import { applyEvent, describeEvent } from "./logic.js";
import { operations } from "./operations.js";
import type {
  BreakerRow,
  CircuitState,
  FeedEntry,
  LiveEvent,
  RegistryChange,
  ServiceRow,
  ServiceStatus,
} from "./types.js";

export type Live = {
  services: ReadonlyMap<string, ServiceRow>;
  feed: FeedEntry[];
  connection: ConnectionState;
  /** False while the first load (or the reload after a reconnect) runs. */
  loaded: boolean;
  /** Bumped on every change, for views that refetch what they show. */
  version: number;
};

const FEED_LENGTH = 50;

type Page = {
  services: { nodes: ServiceRow[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
};

/** Every service, page by page; `onPage` sees what has been read so far after each page. */
async function loadAll(
  api: Api,
  onPage: (soFar: ReadonlyMap<string, ServiceRow>) => void,
): Promise<Map<string, ServiceRow>> {
  const all = new Map<string, ServiceRow>();
  let after: string | null = null;
  for (;;) {
    const page: Page = await api.query<Page>(operations.services, { after });
    for (const service of page.services.nodes) all.set(service.id, service);
    if (!page.services.pageInfo.hasNextPage) return all;
    onPage(all);
    after = page.services.pageInfo.endCursor;
  }
}

/**
 * The registry as the page shows it: loaded once connected, then kept by the three
 * subscriptions. After a reconnect it is loaded again (status and breaker changes are
 * not in registryChanges' log), and until then the page says it may be stale. Events
 * that arrive during a load are applied again on top of it, so none is lost to it.
 */
export function useLive(api: Api): Live {
  const [live, setLive] = useState<Live>({
    services: new Map(),
    feed: [],
    connection: "connecting",
    loaded: false,
    version: 0,
  });

  useEffect(() => {
    let loading = false;
    let pending: LiveEvent[] = [];
    let key = 0;
    let stopped = false;
    let loadedOnce = false;

    const onEvent = (event: LiveEvent) => {
      (window as DashboardWindow).__dashboardEvents?.push({ at: event.at, seen: Date.now() });
      if (loading) pending.push(event);
      const { serviceId, text } = describeEvent(event);
      key += 1;
      const entry = { key, at: event.at, serviceId, text };
      setLive((current) => ({
        ...current,
        services: applyEvent(current.services, event),
        feed: [entry, ...current.feed].slice(0, FEED_LENGTH),
        version: current.version + 1,
      }));
    };

    const withPending = (snapshot: ReadonlyMap<string, ServiceRow>) => {
      let services: ReadonlyMap<string, ServiceRow> = new Map(snapshot);
      for (const event of pending) services = applyEvent(services, event);
      return services;
    };

    const reload = async (first: boolean) => {
      loading = true;
      pending = [];
      setLive((current) => ({ ...current, loaded: false }));
      try {
        // The first load shows each page as it comes (the banner says it is loading); a
        // reload keeps the rows it has until the new ones are all read.
        const snapshot = await loadAll(api, (soFar) => {
          if (first && !stopped)
            setLive((current) => ({ ...current, services: withPending(soFar) }));
        });
        const services = withPending(snapshot);
        if (stopped) return;
        setLive((current) => ({
          ...current,
          services,
          loaded: true,
          version: current.version + 1,
        }));
      } catch {
        // The connection state says what is wrong; the next reconnect loads again.
      } finally {
        loading = false;
        pending = [];
      }
    };

    const stops = [
      api.subscribe<{
        registryChanged: { change: RegistryChange; at: string; service: ServiceRow };
      }>(operations.registryChanged, ({ registryChanged: e }) =>
        onEvent({ kind: "registry", change: e.change, service: e.service, at: e.at }),
      ),
      api.subscribe<{
        serviceStatusChanged: {
          previousStatus: ServiceStatus | null;
          status: ServiceStatus;
          reason: string;
          at: string;
          service: ServiceRow;
        };
      }>(operations.serviceStatusChanged, ({ serviceStatusChanged: e }) =>
        onEvent({ kind: "status", ...e }),
      ),
      api.subscribe<{
        circuitBreakerChanged: {
          serviceId: string;
          state: CircuitState;
          at: string;
          breaker: BreakerRow;
        };
      }>(operations.circuitBreakerChanged, ({ circuitBreakerChanged: e }) =>
        onEvent({ kind: "breaker", ...e }),
      ),
      api.onState((connection, reconnected) => {
        setLive((current) => ({ ...current, connection }));
        if (connection === "live" && (reconnected || !loadedOnce)) {
          void reload(!loadedOnce);
          loadedOnce = true;
        }
      }),
    ];
    return () => {
      stopped = true;
      for (const stop of stops) stop();
    };
  }, [api]);

  return live;
}

/** What the browser tests and the benchmark read: when each event reached the page. */
type DashboardWindow = Window & {
  __dashboardEvents?: { at: string; seen: number }[];
};
