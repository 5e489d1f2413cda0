# syntax=docker/dockerfile:1
# One image recipe for every Tally app; pick the app with the APP build arg (auth, metering, quota):
#   docker build --build-arg APP=metering -t tally-metering .
# The build stage compiles all apps (shared libs), the runtime stage keeps production dependencies only.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# NODE_ENV stays unset here: npm ci must install devDependencies (typescript, tsc-alias, ...).
COPY package.json package-lock.json .npmrc ./
# The `node` devDependency installs its own Node 24 binary into node_modules/.bin; npm scripts
# (npm run build) pick it up, while npm itself runs on the base image's /usr/local/bin/node.
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig*.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY scripts ./scripts
RUN npm run build \
 && npm prune --omit=dev \
 && test ! -e node_modules/.bin/node \
 && test -f dist/apps/auth/src/main.js \
 && test -f dist/apps/metering/src/main.js \
 && test -f dist/apps/quota/src/main.js

FROM node:24-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0
ARG APP=auth
ENV APP=${APP}
# Read-only for the app: files stay root-owned, the process runs as the image's unprivileged `node` user.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/scripts/app-runtime.sh ./scripts/app-runtime.sh
USER node
# Documents the default port of each app; PORT overrides it.
EXPOSE 3001 3002 3003
# PORT unset means the app's own default, mirrored here.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const port = process.env.PORT || { auth: 3001, metering: 3002, quota: 3003 }[process.env.APP]; fetch('http://127.0.0.1:' + port + '/health/live', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));"]
# exec: node becomes PID 1 and receives SIGTERM directly (the apps enable Nest shutdown hooks).
# scripts/app-runtime.sh sets the app's Node.js runtime settings first (metering's heap limits).
CMD ["/bin/sh", "-c", ". ./scripts/app-runtime.sh && exec node \"dist/apps/${APP}/src/main.js\""]
