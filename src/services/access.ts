import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ApiTokenRepository, StoredApiToken } from "../db/api-tokens.js";
import {
  type AccessMode,
  anonymousCaller,
  type Caller,
  type ConfiguredToken,
  type Permission,
  permissionsOf,
  type Role,
  roles,
} from "../domain/access.js";
import { badInput, GatewayError, notFound } from "../domain/errors.js";
import { normalizeServiceType } from "../domain/service.js";
import type { Clock } from "../lib/clock.js";
import { every } from "../lib/interval-loop.js";

/** A token as the API shows it: never the secret. */
export type ApiToken = Omit<StoredApiToken, "secretHash"> & { source: "api" | "config" };

/** Who the caller is and what it may do, as the `viewer` query answers. */
export type Viewer = {
  mode: AccessMode;
  role: Role | null;
  tokenName: string | null;
  permissions: Permission[];
};

export type AccessDeps = {
  configured: readonly ConfiguredToken[];
  repository: ApiTokenRepository;
  clock: Clock;
  log: Logger;
  /**
   * How often tokens made, revoked or expired on other replicas are read: the bound on
   * how long a revoked token goes on working anywhere. Default 500 ms.
   */
  refreshIntervalMs?: number;
};

/** Changes are read back this far before the last one seen, for replicas whose clocks differ. */
const CLOCK_SKEW_MS = 5000;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

type KnownToken = {
  id: string;
  name: string;
  role: Role;
  serviceTypes: readonly string[] | null;
  expiresAt: number | null;
};

/**
 * Who a request comes from. With no token configured the gateway is in open mode and
 * every caller is anonymous (their bearer, if any, still owns what it registers).
 * Otherwise a request needs a token from the environment or one made with
 * createApiToken; those are kept in memory, by the sha-256 of their secret, and re-read
 * every `refreshIntervalMs`, so a revocation reaches every replica within about that.
 */
export function createAccess({
  configured,
  repository,
  clock,
  log,
  refreshIntervalMs = 500,
}: AccessDeps) {
  const mode: AccessMode = configured.length > 0 ? "tokens" : "open";
  const fromConfig = new Map<string, KnownToken>(
    configured.map((token) => [
      hashOf(token.secret),
      {
        id: configTokenId(token.name),
        name: token.name,
        role: token.role,
        serviceTypes: token.serviceTypes,
        expiresAt: null,
      },
    ]),
  );
  const fromApi = new Map<string, KnownToken>();
  const apiTokens = new Map<string, StoredApiToken>();
  let readUntil: string | null = null;
  const invalidatedListeners = new Set<(tokenId: string) => void>();
  /** Tokens that were valid at the last check, to tell listeners when one stops being. */
  let valid = new Set<string>();

  function apply(token: StoredApiToken): void {
    apiTokens.set(token.id, token);
    const usable = token.revokedAt === null;
    if (usable) {
      fromApi.set(token.secretHash, {
        id: token.id,
        name: token.name,
        role: token.role,
        serviceTypes: token.serviceTypes,
        expiresAt: token.expiresAt === null ? null : Date.parse(token.expiresAt),
      });
    } else {
      fromApi.delete(token.secretHash);
    }
  }

  async function refresh(): Promise<void> {
    const since =
      readUntil === null ? null : new Date(Date.parse(readUntil) - CLOCK_SKEW_MS).toISOString();
    const changed = await repository.changedSince(since);
    for (const token of changed) apply(token);
    const latest = changed.at(-1)?.updatedAt;
    if (latest && (readUntil === null || latest > readUntil)) readUntil = latest;
    announceInvalidated();
  }

  /** Tells listeners (open WebSockets) about tokens revoked or expired since last time. */
  function announceInvalidated(): void {
    const now = clock.now();
    const stillValid = new Set<string>();
    for (const token of fromApi.values()) {
      if (token.expiresAt === null || token.expiresAt > now) stillValid.add(token.id);
    }
    for (const id of valid) {
      if (!stillValid.has(id)) for (const listener of invalidatedListeners) listener(id);
    }
    valid = stillValid;
  }

  const refreshLoop = every(refreshIntervalMs, refresh, { log, name: "API token refresh" });

  function find(hash: string): KnownToken | null {
    const token = fromConfig.get(hash) ?? fromApi.get(hash) ?? null;
    if (!token) return null;
    if (token.expiresAt !== null && token.expiresAt <= clock.now()) return null;
    return token;
  }

  function publicToken(token: StoredApiToken): ApiToken {
    const { secretHash: _secret, ...shown } = token;
    return { ...shown, source: "api" };
  }

  return {
    mode,

    /**
     * The caller a request's Authorization header names. In tokens mode a missing,
     * unknown, expired or revoked token is UNAUTHENTICATED; in open mode nobody is.
     */
    authenticate(authorization: string | null | undefined, address: string | null): Caller {
      const secret = BEARER.exec(authorization ?? "")?.[1] ?? null;
      const ownerKey = secret === null ? null : hashOf(secret);
      if (mode === "open") return anonymousCaller(ownerKey, address);
      if (ownerKey === null) throw unauthenticated("This gateway needs a bearer token.");
      const token = find(ownerKey);
      if (!token) {
        throw unauthenticated("The bearer token is not valid: unknown, expired or revoked.");
      }
      return {
        mode,
        role: token.role,
        tokenId: token.id,
        tokenName: token.name,
        ownerKey,
        serviceTypes: token.serviceTypes,
        address,
      };
    },

    /** What a caller may do, for a client (the dashboard) to show only its actions. */
    viewer(caller: Caller): Viewer {
      return {
        mode,
        role: caller.role,
        tokenName: caller.tokenName,
        permissions: permissionsOf(caller),
      };
    },

    /** Nobody: what a request that needs no token acts as; permitted nothing in tokens mode. */
    anonymous(address: string | null): Caller {
      return { ...anonymousCaller(null, address), mode };
    },

    /** Calls `listener` with the id of each API token revoked or expired from now on. */
    onInvalidated(listener: (tokenId: string) => void): () => void {
      invalidatedListeners.add(listener);
      return () => invalidatedListeners.delete(listener);
    },

    /** Whether a token can stop working while in use: one made with createApiToken. */
    isRevocable(tokenId: string): boolean {
      return !isConfigTokenId(tokenId);
    },

    /** Whether the token with this id still authenticates (for long-lived connections). */
    isValid(tokenId: string): boolean {
      if (isConfigTokenId(tokenId)) return true;
      const token = apiTokens.get(tokenId);
      if (!token || token.revokedAt !== null) return false;
      return token.expiresAt === null || Date.parse(token.expiresAt) > clock.now();
    },

    /** Makes a token; its secret is in the answer and nowhere else, ever. */
    async createToken(
      input: {
        role: string;
        name: string;
        serviceTypes?: readonly string[] | null;
        expiresAt?: Date | string | null;
      },
      createdBy: Caller,
    ): Promise<{ token: ApiToken; secret: string }> {
      if (mode === "open") {
        throw new GatewayError(
          "BAD_USER_INPUT",
          "API tokens need tokens mode: configure ADMIN_TOKEN, AUTH_TOKENS or AUTH_TOKENS_FILE first.",
        );
      }
      const role = parseRole(input.role);
      const name = input.name.trim();
      if (name.length === 0 || name.length > 100) {
        throw badInput("name", "must be 1 to 100 characters");
      }
      const serviceTypes = parseTypes(input.serviceTypes ?? null, role);
      const now = clock.now();
      const expiresAt = parseExpiry(input.expiresAt ?? null, now);
      const secret = `sig_${randomBytes(32).toString("base64url")}`;
      const at = new Date(now).toISOString();
      const stored: StoredApiToken = {
        id: randomUUID(),
        name,
        role,
        serviceTypes,
        secretHash: hashOf(secret),
        createdBy: createdBy.tokenName,
        createdAt: at,
        expiresAt,
        revokedAt: null,
        updatedAt: at,
      };
      await repository.insert(stored);
      apply(stored);
      valid.add(stored.id);
      return { token: publicToken(stored), secret };
    },

    /** Revokes a token here at once, and on every other replica at its next refresh. */
    async revokeToken(id: string): Promise<ApiToken> {
      if (isConfigTokenId(id)) {
        throw new GatewayError(
          "BAD_USER_INPUT",
          "A token from the environment is revoked by removing it from ADMIN_TOKEN, AUTH_TOKENS or AUTH_TOKENS_FILE.",
          { field: "id" },
        );
      }
      const revoked = await repository.revoke(id, new Date(clock.now()).toISOString());
      if (!revoked) throw notFound(`No API token has id ${id}.`);
      apply(revoked);
      announceInvalidated();
      return publicToken(revoked);
    },

    /** Every token: the environment's first (by name), then the API's, newest first. */
    list(): ApiToken[] {
      const configuredShown: ApiToken[] = configured.map((token) => ({
        id: configTokenId(token.name),
        name: token.name,
        role: token.role,
        serviceTypes: token.serviceTypes,
        createdBy: null,
        createdAt: "1970-01-01T00:00:00.000Z",
        expiresAt: null,
        revokedAt: null,
        updatedAt: "1970-01-01T00:00:00.000Z",
        source: "config",
      }));
      const made = [...apiTokens.values()]
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
        .map(publicToken);
      return [...configuredShown, ...made];
    },

    /** Reads every API token once before the gateway answers, then keeps reading changes. */
    async start(): Promise<void> {
      if (mode === "tokens") {
        await refresh().catch((error: unknown) =>
          log.warn({ err: error }, "API tokens not read yet; retrying"),
        );
        refreshLoop.start();
      }
    },

    stop: () => refreshLoop.stop(),
  };
}

export type Access = ReturnType<typeof createAccess>;

/**
 * sha-256 of a bearer token, remembered for the tokens that keep coming back: hashing
 * costs ~5 µs, on every request. Bounded, so a flood of made-up tokens only empties it.
 */
function hashOf(secret: string): string {
  let hash = recentHashes.get(secret);
  if (hash === undefined) {
    hash = createHash("sha256").update(secret).digest("hex");
    if (recentHashes.size >= MAX_REMEMBERED_HASHES) recentHashes.clear();
    recentHashes.set(secret, hash);
  }
  return hash;
}
const recentHashes = new Map<string, string>();
const MAX_REMEMBERED_HASHES = 1000;

function unauthenticated(message: string): GatewayError {
  return new GatewayError("UNAUTHENTICATED", message);
}

function parseRole(value: string): Role {
  const role = value.trim().toLowerCase();
  if ((roles as readonly string[]).includes(role)) return role as Role;
  throw badInput("role", `must be one of ${roles.join(", ")}`);
}

function parseTypes(types: readonly string[] | null, role: Role): string[] | null {
  if (types === null) return null;
  if (role !== "service") throw badInput("serviceTypes", "applies to service tokens only");
  if (types.length === 0 || types.length > 100) {
    throw badInput("serviceTypes", "must list 1 to 100 types, or be omitted for any type");
  }
  return types.map((type, i) => {
    const normalized = normalizeServiceType(type);
    if (normalized.length === 0 || type.length > 100) {
      throw badInput(`serviceTypes.${i}`, "must be a service type of 1 to 100 characters");
    }
    return normalized;
  });
}

function parseExpiry(value: Date | string | null, now: number): string | null {
  if (value === null) return null;
  const at = new Date(value).getTime();
  if (!Number.isFinite(at)) throw badInput("expiresAt", "must be a date-time");
  if (at <= now) throw badInput("expiresAt", "must be in the future");
  return new Date(at).toISOString();
}

/** Tokens from the environment are known by their name: `config:<name>`, never revocable. */
const CONFIG_TOKEN_PREFIX = "config:";

function configTokenId(name: string): string {
  return `${CONFIG_TOKEN_PREFIX}${name}`;
}

function isConfigTokenId(id: string): boolean {
  return id.startsWith(CONFIG_TOKEN_PREFIX);
}
