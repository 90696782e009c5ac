# certmint's image: `docker build -t certmint .`, then see docker-compose.yml and docs/containers-and-kubernetes.md
# Configuration: CERTMINT_* variables, or a YAML file mounted at
# /etc/certmint/config.yaml (the image sets CERTMINT_CONFIG to it; an empty file is valid).

# Build: compile better-sqlite3 against this Node (no prebuilt binary downloaded) and the
# TypeScript, then drop the dev dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# node-gyp uses the headers the image ships instead of downloading them.
ENV npm_config_nodedir=/usr/local
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The console's browser assets, and the server itself (one file: it starts in half the time), are
# bundled by esbuild during `npm run build`, which then starts the server twice on a throw-away data
# dir (its migrations too) to make V8's code cache of it with this Node (the final stage's).
COPY console ./console
COPY migrations ./migrations
COPY scripts/build-console.mjs scripts/build-server.mjs scripts/write-code-cache.mjs ./scripts/
# No package runs install scripts except better-sqlite3 (package.json allowScripts), which is
# built from source here; `npm run build` stands in for the skipped `prepare`.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 --build-from-source \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim
# tini as PID 1: forwards SIGTERM/SIGINT to node (certmint closes the server on them) and reaps
# zombies; node itself as PID 1 would ignore a second signal and any default-action signal.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY config ./config
COPY scripts/container-healthcheck.mjs ./scripts/container-healthcheck.mjs
# The node user (uid 1000) owns the data (CA keys, ledger, CRLs); the config is read-only for it.
RUN mkdir -p /data /etc/certmint \
 && touch /etc/certmint/config.yaml \
 && chown node:node /data \
 && ln -s /app/dist/cli/main.js /usr/local/bin/certmint \
 && chmod 0755 /app/dist/cli/main.js
# Variables win over the file: only the data dir is fixed here (it is the volume); everything
# else (server.listen defaults to [::]:8443) comes from the mounted file or the run's variables.
ENV NODE_ENV=production \
    CERTMINT_CONFIG=/etc/certmint/config.yaml \
    CERTMINT_DATA_DIR=/data
USER node
VOLUME /data
EXPOSE 8443
# /health: the process answers over TLS with a certificate chaining to its own root
# (scripts/container-healthcheck.mjs reads the same config as the server; no curl in this image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/scripts/container-healthcheck.mjs", "/health"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli/main.js"]
CMD ["serve"]
