/**
 * The gateway under benchmark runs as it would in production: NODE_ENV=production, so in
 * tokens mode, and every load request carries this admin token. Authentication is part
 * of what is measured; the baselines ignore the header.
 */
export const BENCH_TOKEN = "bench-admin-token-0123456789";
