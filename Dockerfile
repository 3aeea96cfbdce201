# syntax=docker/dockerfile:1
#
# The monitor in a container: a static binary on distroless, run as nonroot.
#
#   docker build -t monitor --build-arg VERSION=v1.2.3 --build-arg BUILD_DATE=$(date -u +%FT%TZ) .
#   docker run -p 8080:8080 -v ./config.yaml:/etc/monitor/config.yaml monitor
#
# cmd/monitor/dockerfile_test.go checks this file: the build line below must
# stay the README's ("Build and run in a container"), the final stage
# distroless nonroot with no shell.

# The Go minor of go.mod.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG BUILD_DATE=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.buildDate=${BUILD_DATE}" -o /out/monitor ./cmd/monitor
# Empty directories the nonroot user owns: the final stage has no shell to
# make them. /var/lib/monitor is the history store's volume; /etc/monitor/data
# is where the shipped config's relative sqlite:// paths (the demo's app.db)
# land, since they are relative to the config file.
RUN mkdir -p /out/var/lib/monitor /out/etc/monitor/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/monitor /monitor
COPY --from=build --chown=65532:65532 /out/var/lib/monitor /var/lib/monitor
COPY --from=build --chown=65532:65532 /out/etc/monitor/data /etc/monitor/data
# The shipped config (the demo on SQLite) unless one is mounted over it.
COPY config.yaml /etc/monitor/config.yaml
USER nonroot:nonroot
# The shipped config reads these: listen on every interface of the
# container, keep the history in the data volume.
ENV MONITOR_LISTEN=0.0.0.0:8080 \
    MONITOR_STORAGE_DSN=sqlite:///var/lib/monitor/monitor.db
VOLUME ["/etc/monitor", "/var/lib/monitor"]
EXPOSE 8080
# GET /readyz with the binary itself (no curl in the image); the address
# comes from $MONITOR_LISTEN.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/monitor", "healthcheck"]
ENTRYPOINT ["/monitor"]
CMD ["run", "--config", "/etc/monitor/config.yaml"]
