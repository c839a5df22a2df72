# homeops: `homeops serve` in a container (DESIGN.md §7).
#
#   docker build -t homeops .                      # npm ci + build inside the image (needs the npm registry)
#   deploy/prebuilt-context.sh /tmp/ctx && \
#     docker build --build-arg PREBUILT=1 -t homeops /tmp/ctx   # offline: reuse this checkout's build
#
# NODE_IMAGE: any Debian-based Node 20 image (glibc: the better-sqlite3 addon is built for it).
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: dependencies, TypeScript, production-only node_modules ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ARG PREBUILT=0
COPY package.json package-lock.json ./
RUN if [ "$PREBUILT" != 1 ]; then npm ci --no-audit --no-fund; fi
COPY . .
RUN set -eu; \
    if [ "$PREBUILT" = 1 ]; then \
      test -f dist/commands/serve.js || { echo "PREBUILT=1 but dist/ is missing: run deploy/prebuilt-context.sh" >&2; exit 1; }; \
    else \
      npm run build && npm prune --omit=dev --no-audit --no-fund; \
    fi; \
    mkdir -p /out/app/src /out/state /out/etc/homeops; \
    cp -r bin dist node_modules package.json /out/app/; \
    if [ -f oclif.manifest.json ]; then cp oclif.manifest.json /out/app/; fi; \
    cp -r src/web /out/app/src/web; \
    if [ -f native/build/Release/homeops_dns.node ]; then \
      mkdir -p /out/app/native/build/Release && cp native/build/Release/homeops_dns.node /out/app/native/build/Release/; \
    fi; \
    cp deploy/healthcheck.mjs /out/app/healthcheck.mjs; \
    grep -v '^homeops:' /etc/passwd > /out/passwd; \
    echo 'homeops:x:10001:10001:homeops:/var/lib/homeops:/usr/sbin/nologin' >> /out/passwd; \
    grep -v '^homeops:' /etc/group > /out/group; \
    echo 'homeops:x:10001:' >> /out/group

# ---- runtime: node, the app, a non-root user ----
# Meant to run with a read-only root filesystem, every capability dropped and no-new-privileges
# (compose.yaml, deploy/swarm-stack.yaml): only /var/lib/homeops (a volume) and /tmp (a tmpfs)
# are written.
FROM ${NODE_IMAGE}
# No setuid/setgid programs (su, mount, passwd… of the base image): nothing in the container can
# gain privileges by exec, also where no-new-privileges cannot be set (Swarm services).
RUN if command -v find >/dev/null 2>&1; then \
      find / -xdev -type f \( -perm -4000 -o -perm -2000 \) -exec chmod a-s {} +; \
    fi
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build --chown=10001:10001 /out/state /var/lib/homeops
COPY --from=build /out/etc/homeops /etc/homeops
COPY --from=build /out/app /app
ENV NODE_ENV=production \
    HOME=/var/lib/homeops \
    XDG_CONFIG_HOME=/etc \
    HOMEOPS_DB_PATH=/var/lib/homeops/homeops.db \
    HOMEOPS_SERVE_LISTEN=0.0.0.0:8080
# config: /etc/homeops/config.yaml (XDG_CONFIG_HOME=/etc), optional; every key also has an env variable
USER 10001:10001
WORKDIR /var/lib/homeops
VOLUME ["/var/lib/homeops"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/run.js"]
CMD ["serve"]
