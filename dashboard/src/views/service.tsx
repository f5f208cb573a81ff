import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api.js";
import { Age, BreakerBadge, StatusBadge } from "../components.js";
import type { Live } from "../live.js";
import { trendPoints } from "../logic.js";
import { operations } from "../operations.js";
import type { RecentCheck, ServiceDetail, ServiceStatus, StatusEvent } from "../types.js";

type Loaded = { service: ServiceDetail | null; serviceHistory: StatusEvent[] };

/** One instance: read again whenever its live row changes; the actions its role allows. */
export function ServicePage({
  api,
  id,
  live,
  now,
  may,
}: {
  api: Api;
  id: string;
  live: Live;
  now: number;
  may: (permission: string) => boolean;
}) {
  const row = live.services.get(id);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    api
      .query<Loaded>(operations.service, { id })
      .then(setLoaded)
      .catch((error: Error) => setMessage(error.message));
  }, [api, id, row]);

  const act = (document: string, done: string, variables: Record<string, unknown> = {}) => {
    setMessage(null);
    api
      .query(document, { id, ...variables })
      .then(() => setMessage(done))
      .catch((error: Error) => setMessage(`Refused: ${error.message}`));
  };

  if (!loaded) return <p>{message ?? "Loading…"}</p>;
  const service = loaded.service;
  if (!service) {
    return (
      <section>
        <h2>No service {id}</h2>
        <p>
          It is not registered (any more). <a href="#/services">All services</a>
        </p>
      </section>
    );
  }
  // The live row is newer than the query when an event arrived since.
  const status: ServiceStatus = row?.status ?? service.status;
  const breaker = row?.circuitBreaker ?? service.circuitBreaker;
  const mayStatus = may("changeAnyStatus") || may("registerServices");
  const mayBreakers = may("operateBreakers");

  return (
    <section aria-labelledby="service-h" class="service">
      <h2 id="service-h">
        {service.name} <small>{service.type}</small>
      </h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd data-testid="service-status">
          <StatusBadge status={status} />
        </dd>
        <dt>Breaker</dt>
        <dd data-testid="service-breaker">
          <BreakerBadge state={breaker.state} /> ({breaker.consecutiveFailures} consecutive
          failures)
        </dd>
        <dt>Id</dt>
        <dd>
          <code>{service.id}</code>
        </dd>
        <dt>Version</dt>
        <dd>{service.version}</dd>
        <dt>Base URL</dt>
        <dd>
          <code>{service.baseUrl}</code>
        </dd>
        <dt>Last heartbeat</dt>
        <dd>
          <Age at={row?.lastHeartbeat ?? service.lastHeartbeat} now={now} /> (every{" "}
          {service.heartbeatIntervalSeconds} s, expires after {service.ttlSeconds} s)
        </dd>
        <dt>Registered</dt>
        <dd>
          <Age at={service.registeredAt} now={now} />
        </dd>
        <dt>Last probe</dt>
        <dd>
          {service.health ? (
            <>
              <StatusBadge status={service.health.status} />{" "}
              {service.health.reachable
                ? `HTTP ${service.health.httpStatus ?? "?"}`
                : "unreachable"}
              {service.health.latencyMs != null && `, ${Math.round(service.health.latencyMs)} ms`},{" "}
              <Age at={service.health.checkedAt} now={now} />
              {service.health.error && <> — {service.health.error}</>}
            </>
          ) : (
            "not probed yet"
          )}
        </dd>
        <dt>Capabilities</dt>
        <dd>{service.capabilities.join(", ") || "—"}</dd>
        <dt>Tags</dt>
        <dd>{service.tags.join(", ") || "—"}</dd>
      </dl>

      {(mayStatus || mayBreakers) && (
        <div class="actions" data-testid="actions">
          {mayStatus &&
            (status === "MAINTENANCE" ? (
              <button
                type="button"
                onClick={() =>
                  act(operations.setStatus, "Maintenance ended.", { status: "ONLINE" })
                }
              >
                End maintenance
              </button>
            ) : (
              <button
                type="button"
                onClick={() =>
                  act(operations.setStatus, "In maintenance.", { status: "MAINTENANCE" })
                }
              >
                Start maintenance
              </button>
            ))}
          {mayBreakers && (
            <>
              <button type="button" onClick={() => act(operations.resetBreaker, "Breaker reset.")}>
                Reset breaker
              </button>
              <button
                type="button"
                onClick={() => act(operations.isolateBreaker, "Breaker isolated.")}
              >
                Isolate breaker
              </button>
            </>
          )}
          {may("registerServices") && (
            <button
              type="button"
              class="danger"
              onClick={() => {
                if (confirm(`Unregister ${service.name} (${service.id})?`)) {
                  act(operations.unregister, "Unregistered.");
                }
              }}
            >
              Unregister
            </button>
          )}
        </div>
      )}
      {message && (
        <p role="status" data-testid="action-message">
          {message}
        </p>
      )}

      <RecentChecks checks={service.recentHealthChecks} now={now} />

      <h3>Status history</h3>
      {loaded.serviceHistory.length === 0 ? (
        <p>No transition yet.</p>
      ) : (
        <ol class="timeline">
          {loaded.serviceHistory.map((event) => (
            <li key={`${event.at}-${event.status}`}>
              <Age at={event.at} now={now} /> {event.previousStatus ?? "—"} →{" "}
              <StatusBadge status={event.status} /> <small>{event.reason}</small>
            </li>
          ))}
        </ol>
      )}

      <h3>Endpoints</h3>
      {service.endpoints.length === 0 ? (
        <p>None declared.</p>
      ) : (
        <ul class="plain">
          {service.endpoints.map((endpoint) => (
            <li key={`${endpoint.method} ${endpoint.path}`}>
              <code>
                {endpoint.method} {endpoint.path}
              </code>{" "}
              {endpoint.description}
            </li>
          ))}
        </ul>
      )}
      <h3>Metadata</h3>
      <pre>{JSON.stringify(service.metadata, null, 2)}</pre>
    </section>
  );
}

const TREND = { width: 240, height: 40 };

/** The last probes: their latency as a line, oldest on the left, then each one. */
function RecentChecks({ checks, now }: { checks: RecentCheck[]; now: number }) {
  if (checks.length === 0) {
    return (
      <>
        <h3>Recent health checks</h3>
        <p data-testid="recent-checks">None yet: the gateway has not probed it.</p>
      </>
    );
  }
  const latencies = checks.flatMap((check) => (check.latencyMs == null ? [] : [check.latencyMs]));
  const summary =
    latencies.length === 0
      ? "no latency: every probe failed to reach it"
      : `latency ${Math.round(Math.min(...latencies))}–${Math.round(Math.max(...latencies))} ms`;
  return (
    <>
      <h3>Recent health checks</h3>
      <figure class="trend" data-testid="recent-checks">
        <svg
          viewBox={`-2 -2 ${TREND.width + 4} ${TREND.height + 4}`}
          width={TREND.width}
          height={TREND.height}
          role="img"
          aria-label={`Latency of the last ${checks.length} probes, oldest first: ${summary}`}
        >
          <polyline points={trendPoints(checks, TREND.width, TREND.height)} />
        </svg>
        <figcaption>
          Last {checks.length} probes, oldest on the left: {summary}
        </figcaption>
      </figure>
      <ol class="checks">
        {checks.map((check) => (
          <li key={check.checkedAt} data-check-at={check.checkedAt}>
            <Age at={check.checkedAt} now={now} /> <StatusBadge status={check.status} />{" "}
            {check.reachable ? `HTTP ${check.httpStatus ?? "?"}` : "unreachable"}
            {check.latencyMs != null && `, ${Math.round(check.latencyMs)} ms`}
            {check.error && <small> — {check.error}</small>}
          </li>
        ))}
      </ol>
    </>
  );
}
