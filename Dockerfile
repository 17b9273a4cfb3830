# syntax=docker/dockerfile:1
# Portico: REST/JSON to gRPC gateway.
#
#   docker build -t portico .
#   docker run --rm -p 8080:8080 -v "$PWD/my-config:/etc/portico:ro" -e PORTICO_JWT_SECRET=... portico
#   docker run --rm -p 127.0.0.1:8080:8080 portico --demo --host 0.0.0.0   # the demo, on this machine only
#
# Without arguments the image serves /etc/portico/config.yaml (PORTICO_CONFIG) and refuses to
# start, in one line, when nothing is mounted there: the demo, with its public JWT secret, runs
# only when asked for with --demo, and then listens on the container's loopback unless --host
# (or HOST) says otherwise.
#
# The base image's Node major matches the `node` devDependency (24) the project is built and
# tested with.

# ---- build: compile src/ (including the committed src/gen) to dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, dist/ and the protos only ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    PORTICO_CONFIG=/etc/portico/config.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY proto ./proto

# The base image's unprivileged "node" user, by number so that Kubernetes' runAsNonRoot can
# verify it. Nothing under /app is writable by it: the container runs with a read-only root
# filesystem too.
USER 1000:1000

EXPOSE 8080

# No tini/--init needed: node is PID 1 and installs its own SIGTERM/SIGINT handlers
# (close-with-grace in src/lifecycle/shutdown.ts), so the signal is not ignored as PID 1's
# default disposition would be; and the gateway spawns no child processes to reap.
# SIGTERM starts the drain: /readyz turns 503, serving continues for shutdown.delayMs, then
# in-flight requests get shutdown.graceMs. Give `docker stop -t` / compose stop_grace_period
# more than delayMs + graceMs.
STOPSIGNAL SIGTERM

# Liveness only (/healthz): /readyz is for load balancers and turns 503 while draining.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8080}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Without arguments: the config at PORTICO_CONFIG (`--config <file>` names another, `--demo`
# runs the demo). The node flags are those of `npm start` (a test keeps them equal): an 8 MiB young generation
# and an old space allowed to grow to 2x its live size (V8's default is up to 4x) between full
# collections keep the peak RSS under load near 200 MiB instead of 330-400 (bench/README.md,
# "What was changed").
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=100", "dist/server.js"]
