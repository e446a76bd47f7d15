# syntax=docker/dockerfile:1
# One image for every Sector role. The role is the first argument (`docker run sector api`)
# or the ROLE variable; with neither, `all` runs every role in one process.
# The sources are TypeScript run by tsx at start-up, so there is no build step: one stage
# installs the production dependencies, the runtime stage copies them beside the sources.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# tsx runs the sources in production, so it is a production dependency; dev tools are not shipped.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (which stops gracefully, invariant I8) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Every folder main.ts reaches by import (tests/deploy checks this list against the code).
COPY package.json tsconfig.json main.ts ./
COPY shared ./shared
COPY engine ./engine
COPY api ./api
COPY viz ./viz
COPY bot ./bot
COPY client ./client
# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can verify it.
# The files above stay owned by root: the app cannot rewrite its own code.
USER 1000:1000
# API (PORT) and viz (VIZ_PORT) defaults; the worker and bot listen on none.
EXPOSE 8000 9000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--import", "tsx", "main.ts"]
