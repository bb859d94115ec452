# syntax=docker/dockerfile:1
# Image of the kube-image-cache webhook. The process runs the TypeScript sources through tsx
# rather than a compiled dist/; docs/decisions/0001-tsx-at-runtime.md explains why.
# Build with BuildKit (the default builder since Docker 23): docker build -t kube-image-cache .

ARG NODE_IMAGE=node:20-bookworm-slim
# The no-op binary is built on the same Debian release the Node.js image is based on.
ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- deps: every dependency, for type-checking ---------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Only the manifests first, so this layer and npm ci are rebuilt only when dependencies change.
COPY package.json package-lock.json ./
# The cache mount keeps npm's download cache between builds without storing it in a layer.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

# ---- build: type-check the sources that go into the image ----------------------------------
FROM deps AS build
COPY tsconfig.json ./
COPY src ./src
# tsconfig.json also includes test/, bench/ and scripts/; they are not copied, so this checks
# src/ alone. CI type-checks everything.
RUN npm run typecheck

# ---- noop: the static no-op binary the pre-puller's pull pods run ---------------------------
FROM ${DEBIAN_IMAGE} AS noop
# Debian images delete downloaded packages after each install (docker-clean); keeping them lets
# the cache mounts below serve the next build.
RUN rm -f /etc/apt/apt.conf.d/docker-clean
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev
WORKDIR /src
COPY src/prepull/noop/noop.c ./
# Static, so it runs in any Linux image of the same architecture, with or without a libc.
RUN gcc -static -Os -s -o /kube-image-cache-noop noop.c \
    && /kube-image-cache-noop

# ---- runtime: production dependencies and the checked sources ------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# tsx keeps a disk cache in /tmp, which a read-only root filesystem makes unwritable (tsx 4 then
# fails at start-up), and each new container starts with it empty. Compile in memory instead.
ENV TSX_DISABLE_CACHE=1
WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a production dependency: it compiles the TypeScript sources when the process starts.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund
# The pre-puller's pull pods copy this binary (prepull.helperBinaryPath) out of this image and
# run it in place of the target image's entrypoint. Mode 0755, so the non-root user can run it.
COPY --from=noop --chmod=0755 /kube-image-cache-noop /usr/local/bin/kube-image-cache-noop
# tsx reads compiler options from tsconfig.json (verbatimModuleSyntax changes which imports it
# keeps), so the image runs with the same options as the type-check.
COPY tsconfig.json ./
# Copying from the build stage makes this stage depend on it: BuildKit skips stages the target
# does not use, so the type-check would otherwise never run.
COPY --from=build /app/src ./src
# A fixed non-root uid, so a pod's runAsNonRoot can verify it; 65532 is the "nonroot" uid of
# the distroless images. The files stay owned by root and read-only for this user.
RUN groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin nonroot
USER 65532:65532
# Default port of `serve` (--port).
EXPOSE 8443
ENTRYPOINT ["node", "--import", "tsx", "src/cli/main.ts"]
CMD ["serve"]
