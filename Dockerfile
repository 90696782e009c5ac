# Minimal image; the operations issue hardens it (healthcheck, secrets, non-root details).
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY config ./config
RUN mkdir /data && chown node:node /data
USER node
ENV CERTMINT_DATA_DIR=/data
VOLUME /data
EXPOSE 8443
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
