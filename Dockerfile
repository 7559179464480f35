# zakpos-backup as a container beside the zakpos stack
# (packaging/docker/docker-compose.backup.yml):
#
#   docker build -t zakpos-backup:0.1.0 .
#
# The build stage compiles with the Debian -dev packages; the runtime stage
# holds the binary and the shared libraries it links, nothing else of the
# build. tests/packaging/dockerfile_check.py checks that the runtime packages
# are exactly the ones owning the libraries the built binary needs.

FROM debian:12 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libarchive-dev libzstd-dev libsodium-dev libcurl4-openssl-dev libpq-dev \
        libjansson-dev libinih-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt README.md ./
COPY include ./include
COPY src ./src
COPY docs ./docs
COPY packaging ./packaging
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
        -DBUILD_TESTS=OFF -DENABLE_WERROR=ON \
    && cmake --build /build -j"$(nproc)" \
    && DESTDIR=/install cmake --install /build --strip \
    && /install/usr/bin/zakpos-backup --version

FROM debian:12-slim AS runtime
# The libraries the binary links (libc6 is in the base image); CA
# certificates for webhooks over HTTPS; tzdata for daemon.timezone;
# busybox-static, which restore --force needs to empty an existing volume.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libarchive13 libzstd1 libsodium23 libcurl4 libpq5 libjansson4 libinih1 libssl3 \
        ca-certificates tzdata busybox-static \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that host files given to the container (secrets,
# bind mounts) can be made readable to it. The Docker socket belongs to the
# host's docker group, whose gid differs between hosts: the compose file adds
# it with group_add (DOCKER_GID).
RUN groupadd --system --gid 10001 zakpos-backup \
    && useradd --system --uid 10001 --gid zakpos-backup --no-create-home \
        --home-dir /var/lib/zakpos-backup --shell /usr/sbin/nologin zakpos-backup \
    && install -d -o zakpos-backup -g zakpos-backup -m 0700 \
        /var/backups/zakpos-backup /var/lib/zakpos-backup
COPY --from=build /install/usr/bin/zakpos-backup /usr/bin/zakpos-backup
# the volume agent (static), which the tool runs in helper containers to read
# and write volumes whose folders this container does not mount
COPY --from=build /install/usr/libexec/zakpos-backup/zb-volume-agent /usr/libexec/zakpos-backup/zb-volume-agent
COPY --from=build /install/usr/share/doc/zakpos-backup/examples/zakpos-backup.conf /etc/zakpos-backup/config
USER zakpos-backup
VOLUME ["/var/backups/zakpos-backup", "/var/lib/zakpos-backup"]
# Healthy while the newest archive is younger than daemon.healthcheck_max_age
# (26h): a fresh container is unhealthy until its first backup.
HEALTHCHECK --interval=5m --timeout=1m --start-period=2m --retries=1 \
    CMD ["zakpos-backup", "healthcheck"]
ENTRYPOINT ["zakpos-backup"]
CMD ["daemon"]
