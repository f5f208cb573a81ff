import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Api, ApiError, createApi } from "./api.js";
import { useLive } from "./live.js";
import { operations } from "./operations.js";
import type { Viewer } from "./types.js";
import { FederationPage } from "./views/federation.js";
import { Overview } from "./views/overview.js";
import { ServicePage } from "./views/service.js";
import { ServicesList } from "./views/services.js";
import { WorkflowPage, WorkflowsList } from "./views/workflows.js";

const TOKEN_KEY = "sig.dashboard.token";

type Session =
  | { kind: "checking" }
  | { kind: "needsToken"; error: string | null }
  | { kind: "ready"; viewer: Viewer; token: string | null }
  | { kind: "failed"; error: string };

/** Whose page it is: open mode, or the token in this tab's session storage. */
export function App() {
  const [session, setSession] = useState<Session>({ kind: "checking" });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const api = createProbe(token);
    api
      .query<{ viewer: Viewer }>(operations.viewer)
      .then(({ viewer }) => setSession({ kind: "ready", viewer, token }))
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
          if (token) sessionStorage.removeItem(TOKEN_KEY);
          setSession({ kind: "needsToken", error: token ? error.message : null });
        } else {
          setSession({ kind: "failed", error: String((error as Error).message ?? error) });
        }
      });
  }, [attempt]);

  if (session.kind === "checking") return <p class="centered">Loading…</p>;
  if (session.kind === "failed") {
    return (
      <p class="centered" role="alert">
        The gateway did not answer: {session.error}{" "}
        <button type="button" onClick={() => setAttempt((n) => n + 1)}>
          Try again
        </button>
      </p>
    );
  }
  if (session.kind === "needsToken") {
    return (
      <TokenForm
        error={session.error}
        onToken={(token) => {
          sessionStorage.setItem(TOKEN_KEY, token);
          setAttempt((n) => n + 1);
        }}
      />
    );
  }
  return (
    <Dashboard
      viewer={session.viewer}
      token={session.token}
      onSignOut={() => {
        sessionStorage.removeItem(TOKEN_KEY);
        setAttempt((n) => n + 1);
      }}
      onRefused={(message) => {
        // Revoked or expired while the page was open: a new token is the only way on.
        sessionStorage.removeItem(TOKEN_KEY);
        setSession({
          kind: "needsToken",
          error: `Signed out: the gateway no longer accepts this token (${message}). Enter another.`,
        });
      }}
    />
  );
}

/** Queries only, for the viewer check: no WebSocket before a token is known to work. */
function createProbe(token: string | null): Pick<Api, "query"> {
  return {
    async query<T>(document: string) {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query: document }),
      });
      const body = (await response.json()) as {
        data?: T;
        errors?: { message: string; extensions?: { code?: string } }[];
      };
      const error = body.errors?.[0];
      if (error) throw new ApiError(error.message, error.extensions?.code ?? null);
      return body.data as T;
    },
  };
}

function TokenForm({ error, onToken }: { error: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <form
      class="token-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (value.trim() !== "") onToken(value.trim());
      }}
    >
      <h1>Service Integration Gateway</h1>
      <p>This gateway needs an API token. It is kept in this tab only (session storage).</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <label>
        API token{" "}
        <input
          type="password"
          name="token"
          autoComplete="off"
          value={value}
          onInput={(event) => setValue((event.target as HTMLInputElement).value)}
        />
      </label>{" "}
      <button type="submit">Sign in</button>
    </form>
  );
}

type Route =
  | { view: "overview" }
  | { view: "services" }
  | { view: "service"; id: string }
  | { view: "workflows" }
  | { view: "workflow"; id: string }
  | { view: "federation" };

function parseRoute(hash: string): Route {
  const [, view, id] = hash.replace(/^#/, "").split("/");
  if (view === "services" || view === "workflows" || view === "federation") return { view };
  if ((view === "service" || view === "workflow") && id) {
    return { view, id: decodeURIComponent(id) };
  }
  return { view: "overview" };
}

/** The nav entry a route belongs to. */
const section = (route: Route) =>
  route.view === "service" ? "services" : route.view === "workflow" ? "workflows" : route.view;

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}

/** The clock the ages are shown against, moved every second. */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

const NAV = [
  ["#/", "Overview", "overview"],
  ["#/services", "Services", "services"],
  ["#/workflows", "Workflows", "workflows"],
  ["#/federation", "Federation", "federation"],
] as const;

function Dashboard({
  viewer,
  token,
  onSignOut,
  onRefused,
}: {
  viewer: Viewer;
  token: string | null;
  onSignOut: () => void;
  /** The gateway refused the token (revoked, expired): back to the token prompt. */
  onRefused: (message: string) => void;
}) {
  // The API is made once per token; the callback it calls is always the latest.
  const refused = useRef(onRefused);
  refused.current = onRefused;
  const api = useMemo(
    () => createApi(token, { onUnauthenticated: (message) => refused.current(message) }),
    [token],
  );
  useEffect(() => () => api.dispose(), [api]);
  const live = useLive(api);
  const route = useRoute();
  const now = useNow();
  const may = (permission: string) => viewer.permissions.includes(permission);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <strong>Service Integration Gateway</strong>
        <nav aria-label="Views">
          {NAV.map(([href, name, key]) => (
            <a key={key} href={href} aria-current={section(route) === key ? "page" : undefined}>
              {name}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {viewer.mode === "OPEN" ? "open mode" : `${viewer.tokenName ?? "token"} · ${viewer.role}`}
          {viewer.mode === "TOKENS" && (
            <>
              {" "}
              <button type="button" onClick={onSignOut}>
                Sign out
              </button>
            </>
          )}
        </span>
        <span class={`conn conn-${live.connection}`} data-testid="connection" role="status">
          {live.connection === "live" && live.loaded ? "● live" : `○ ${live.connection}`}
        </span>
      </header>
      {viewer.mode === "OPEN" && (
        <p class="warning" role="note" data-testid="open-mode">
          ⚠ Open mode: no API token is configured, so anyone who can reach this gateway may change
          anything. Configure ADMIN_TOKEN or AUTH_TOKENS before exposing it.
        </p>
      )}
      {(live.connection !== "live" || !live.loaded) && (
        <p class="stale" role="alert" data-testid="stale">
          {live.connection === "live"
            ? "Loading the registry…"
            : "Disconnected: reconnecting. What is shown may be stale; it is reloaded once the connection is back."}
        </p>
      )}
      <main id="main" data-loaded={live.loaded ? "true" : "false"}>
        {route.view === "overview" && <Overview api={api} live={live} now={now} />}
        {route.view === "services" && <ServicesList live={live} now={now} />}
        {route.view === "service" && (
          <ServicePage api={api} id={route.id} live={live} now={now} may={may} />
        )}
        {route.view === "workflows" && <WorkflowsList api={api} now={now} />}
        {route.view === "workflow" && <WorkflowPage api={api} id={route.id} now={now} may={may} />}
        {route.view === "federation" && <FederationPage api={api} now={now} />}
      </main>
    </>
  );
}
