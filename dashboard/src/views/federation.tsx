import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api.js";
import { Age } from "../components.js";
import { operations } from "../operations.js";
import type { Supergraph } from "../types.js";

/** The supergraph as composed now, pushed again by supergraphChanged after each composition. */
export function FederationPage({ api, now }: { api: Api; now: number }) {
  const [supergraph, setSupergraph] = useState<Supergraph | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const stop = api.subscribe<{ supergraphChanged: { supergraph: Supergraph } }>(
      operations.supergraphChanged,
      ({ supergraphChanged }) => setSupergraph(supergraphChanged.supergraph),
    );
    api
      .query<{ supergraph: Supergraph }>(operations.supergraph)
      .then((data) => setSupergraph((current) => current ?? data.supergraph))
      .catch((failure: Error) => setError(failure.message));
    return stop;
  }, [api]);

  if (!supergraph) return <p>{error ?? "Loading…"}</p>;
  return (
    <section aria-labelledby="federation-h">
      <h2 id="federation-h">Federation</h2>
      <p data-testid="supergraph-status">
        Supergraph: <strong>{supergraph.status}</strong>
        {supergraph.composedAt && (
          <>
            {" "}
            · composed <Age at={supergraph.composedAt} now={now} />
          </>
        )}
      </p>
      {supergraph.errors.length > 0 && (
        <>
          <h3>Composition errors</h3>
          <ul class="reasons error">
            {supergraph.errors.map((message) => (
              <li key={message}>✖ {message}</li>
            ))}
          </ul>
        </>
      )}
      {supergraph.warnings.length > 0 && (
        <>
          <h3>Warnings</h3>
          <ul class="reasons">
            {supergraph.warnings.map((message) => (
              <li key={message}>⚠ {message}</li>
            ))}
          </ul>
        </>
      )}
      <h3>Subgraphs</h3>
      {supergraph.subgraphs.length === 0 ? (
        <p>None: no registered service declares a GraphQL API.</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Kind</th>
              <th scope="col">Version</th>
              <th scope="col">Callable / instances</th>
            </tr>
          </thead>
          <tbody>
            {supergraph.subgraphs.map((subgraph) => (
              <tr key={subgraph.type}>
                <td>{subgraph.type}</td>
                <td>{subgraph.kind}</td>
                <td>{subgraph.version}</td>
                <td>
                  {subgraph.callable === 0 ? "✖ " : ""}
                  {subgraph.callable} / {subgraph.instances}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>SDL</h3>
      {supergraph.sdl ? (
        <details>
          <summary>The supergraph's SDL ({supergraph.sdl.length} characters)</summary>
          <pre>{supergraph.sdl}</pre>
        </details>
      ) : (
        <p>Not composed yet.</p>
      )}
    </section>
  );
}
