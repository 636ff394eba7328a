# Switchboard images for Docker users (docs/images.md). `make images` builds the same images
# without Docker; TestDockerfileMatchesImages keeps the two in step (paths, user, entrypoints).
#
#   docker build --target signaling -t ghcr.io/switchboard-rtc/signaling:$(make -s print-version) \
#     --build-arg VERSION=$(make -s print-version) --build-arg REVISION=$(git rev-parse HEAD) .
#   docker build --target manager   -t ghcr.io/switchboard-rtc/manager:$(make -s print-version) \
#     --build-arg VERSION=$(make -s print-version) --build-arg REVISION=$(git rev-parse HEAD) .

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS builder
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath \
      -ldflags "-s -w -X github.com/switchboard-rtc/switchboard/internal/version.Version=${VERSION} -X github.com/switchboard-rtc/switchboard/internal/version.Revision=${REVISION}" \
      -o /out/ ./cmd/signaling ./cmd/manager

# distroless/static: no shell, CA certificates, /etc/passwd with the nonroot user (65532).
# Both images share this stage: the same user, working directory and OCI labels.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.source="https://github.com/switchboard-rtc/switchboard" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532
WORKDIR /

FROM runtime AS manager
LABEL org.opencontainers.image.title="Switchboard operator"
COPY --from=builder /out/manager /usr/local/bin/manager
EXPOSE 8080/tcp 8081/tcp
ENTRYPOINT ["/usr/local/bin/manager"]

# The last stage is the default target: the signaling node.
FROM runtime AS signaling
LABEL org.opencontainers.image.title="Switchboard signaling node"
COPY --from=builder /out/signaling /usr/local/bin/signaling
EXPOSE 8080/tcp
ENTRYPOINT ["/usr/local/bin/signaling"]
