import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Age, BreakerBadge, StatusBadge } from "../components.js";
import type { Live } from "../live.js";
import { groupRows, visibleWindow } from "../logic.js";
import type { ServiceStatus } from "../types.js";

const ROW_HEIGHT = 40;
const STATUSES: ServiceStatus[] = ["ONLINE", "DEGRADED", "MAINTENANCE", "OFFLINE"];

/** Every instance, grouped by type; only the rows in view are in the DOM (5,000 stay fast). */
export function ServicesList({ live, now }: { live: Live; now: number }) {
  const [text, setText] = useState("");
  const [statuses, setStatuses] = useState<ReadonlySet<ServiceStatus>>(new Set());
  const rows = useMemo(
    () => groupRows(live.services.values(), { text, statuses }),
    [live.services, text, statuses],
  );
  const viewport = useRef<HTMLElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const element = viewport.current;
    if (element) setScroll({ top: element.scrollTop, height: element.clientHeight || 800 });
  }, []);
  const { start, end } = visibleWindow(rows.length, ROW_HEIGHT, scroll.top, scroll.height);
  const toggle = (status: ServiceStatus) => {
    const next = new Set(statuses);
    if (next.has(status)) next.delete(status);
    else next.add(status);
    setStatuses(next);
  };
  const shown = rows.filter((row) => row.kind === "service").length;

  return (
    <section aria-labelledby="services-h">
      <h2 id="services-h">Services</h2>
      <div class="filters">
        <label>
          Search{" "}
          <input
            type="search"
            value={text}
            placeholder="name, id, type, version"
            onInput={(event) => setText((event.target as HTMLInputElement).value)}
          />
        </label>
        <fieldset>
          <legend>Status</legend>
          {STATUSES.map((status) => (
            <label key={status} class="check">
              <input
                type="checkbox"
                checked={statuses.has(status)}
                onChange={() => toggle(status)}
              />{" "}
              {status}
            </label>
          ))}
        </fieldset>
        <span data-testid="shown-count">
          {shown} of {live.services.size}
        </span>
      </div>
      <div class="list-head" aria-hidden="true">
        <span>Status</span>
        <span>Name</span>
        <span class="wide">Version</span>
        <span>Heartbeat</span>
        <span class="wide">Probe</span>
        <span>Breaker</span>
      </div>
      <section
        class="list"
        ref={viewport}
        onScroll={(event) => {
          const element = event.currentTarget as HTMLElement;
          setScroll({ top: element.scrollTop, height: element.clientHeight });
        }}
        aria-label="Services by type"
      >
        <div style={{ height: `${rows.length * ROW_HEIGHT}px`, position: "relative" }}>
          {rows.slice(start, end).map((row, offset) => {
            const top = (start + offset) * ROW_HEIGHT;
            if (row.kind === "group") {
              return (
                <div class="group" key={`g:${row.type}`} style={{ top: `${top}px` }}>
                  <h3>{row.type}</h3> <small>{row.count}</small>
                </div>
              );
            }
            const s = row.service;
            return (
              <a
                class="row"
                key={s.id}
                href={`#/service/${encodeURIComponent(s.id)}`}
                style={{ top: `${top}px` }}
                data-service-id={s.id}
              >
                <StatusBadge status={s.status} />
                <span class="name">
                  {s.name} <small>{s.id}</small>
                </span>
                <span class="wide">{s.version}</span>
                <Age at={s.lastHeartbeat} now={now} />
                <span class="wide">
                  {s.health?.latencyMs != null ? `${Math.round(s.health.latencyMs)} ms` : "—"}
                </span>
                <BreakerBadge state={s.circuitBreaker.state} />
              </a>
            );
          })}
        </div>
      </section>
      {rows.length === 0 && <p>No service matches.</p>}
    </section>
  );
}
