# One image for every Sector role. The role is the first argument (`docker run sector api`)
# or the ROLE variable; with neither, `all` runs every role in one process.
# No `# syntax=` line: it would make BuildKit fetch a frontend image from Docker Hub; this file
# needs nothing past the builtin frontend, so it builds offline with BuildKit and with the
# classic builder alike.
ARG NODE_IMAGE=node:24-bookworm-slim

# Build stage: every dependency (TypeScript among them), the sources compiled to dist/ by
# `npm run build` (tsc emit, see deploy/build.ts), then the dev dependencies pruned away.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Every folder main.ts reaches by import, and the token generator (tests/deploy checks this list).
COPY tsconfig.json tsconfig.build.json main.ts ./
COPY shared ./shared
COPY engine ./engine
COPY api ./api
COPY viz ./viz
COPY bot ./bot
COPY client ./client
COPY deploy ./deploy
COPY cli ./cli
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# Runtime stage: node, tini, the production dependencies and the compiled JavaScript. No
# TypeScript, no tsx, no sources.
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (which stops gracefully, invariant I8) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# Where compose's `tokens` service writes the installation's tokens (a named volume mounted
# here starts as a copy of this directory, owned by the app's user, so it may write there).
RUN mkdir -p /var/lib/sector/tokens && chown 1000:1000 /var/lib/sector/tokens
ENV NODE_ENV=production
WORKDIR /app
# package.json: its "type": "module" makes node load dist/*.js as ES modules; its "bin" makes
# `npx sector ...` run bin/sector.mjs, which runs dist/cli/main.js (no sources here).
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can verify it.
# The files above stay owned by root: the app cannot rewrite its own code.
USER 1000:1000
# API (PORT) and viz (VIZ_PORT) defaults; the worker and bot listen on none.
EXPOSE 8000 9000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/main.js"]
