import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api.js";
import { Age, BreakerBadge, StatusBadge } from "../components.js";
import type { Live } from "../live.js";
import { countByStatus } from "../logic.js";
import { operations } from "../operations.js";
import type { ServiceStatus, SystemHealth } from "../types.js";

const STATUSES: ServiceStatus[] = ["ONLINE", "DEGRADED", "MAINTENANCE", "OFFLINE"];

/** System health (read again at most once a second while events arrive), counts, breakers, stream. */
export function Overview({ api, live, now }: { api: Api; live: Live; now: number }) {
  const health = useSystemHealth(api, live.version);
  const counts = countByStatus(live.services.values());
  const breakers = [...live.services.values()].filter((s) => s.circuitBreaker.state !== "CLOSED");
  return (
    <div class="overview">
      <section aria-labelledby="system-h">
        <h2 id="system-h">System</h2>
        {health ? (
          <div data-testid="system-health">
            <p class={`system system-${health.status.toLowerCase()}`}>
              {health.status === "HEALTHY" ? "✔" : "▲"} {health.status}{" "}
              <small>
                checked <Age at={health.checkedAt} now={now} />
              </small>
            </p>
            {health.reasons.length > 0 && (
              <ul class="reasons">
                {health.reasons.map((reason) => (
                  <li key={reason}>{reason}</li>
                ))}
              </ul>
            )}
            {health.warnings.map((warning) => (
              <p class="note" key={warning}>
                ⚠ {warning}
              </p>
            ))}
            {health.selfPreservation.active && (
              <p class="warning" data-testid="self-preservation">
                ⏸ Expiry held (self-preservation) since{" "}
                <Age at={health.selfPreservation.since} now={now} />: {health.selfPreservation.held}{" "}
                services would have expired.
              </p>
            )}
          </div>
        ) : (
          <p>Loading…</p>
        )}
      </section>
      <section aria-labelledby="counts-h">
        <h2 id="counts-h">Services by status</h2>
        <ul class="tiles">
          {STATUSES.map((status) => (
            <li key={status} data-testid={`count-${status}`}>
              <a href="#/services">
                <span class="count">{counts[status]}</span> <StatusBadge status={status} />
              </a>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="breakers-h">
        <h2 id="breakers-h">Breakers not closed</h2>
        {breakers.length === 0 ? (
          <p>None: every breaker is closed.</p>
        ) : (
          <ul class="plain">
            {breakers.map((service) => (
              <li key={service.id}>
                <BreakerBadge state={service.circuitBreaker.state} />{" "}
                <a href={`#/service/${encodeURIComponent(service.id)}`}>{service.name}</a>{" "}
                <small>
                  since <Age at={service.circuitBreaker.lastStateChangeAt} now={now} />
                </small>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="feed-h" class="feed">
        <h2 id="feed-h">Latest events</h2>
        {live.feed.length === 0 ? (
          <p>No event since this page opened.</p>
        ) : (
          <ol class="plain" aria-live="polite" data-testid="feed">
            {live.feed.map((entry) => (
              <li key={entry.key}>
                <Age at={entry.at} now={now} />{" "}
                <a href={`#/service/${encodeURIComponent(entry.serviceId)}`}>{entry.text}</a>
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}

function useSystemHealth(api: Api, version: number): SystemHealth | null {
  const [health, setHealth] = useState<SystemHealth | null>(null);
  const [asked, setAsked] = useState(-1);
  useEffect(() => {
    if (version === asked) return;
    const wait = asked === -1 ? 0 : 1000;
    const timer = setTimeout(() => {
      setAsked(version);
      api
        .query<{ systemHealth: SystemHealth }>(operations.systemHealth)
        .then(({ systemHealth }) => setHealth(systemHealth))
        .catch(() => {});
    }, wait);
    return () => clearTimeout(timer);
  }, [api, version, asked]);
  return health;
}
