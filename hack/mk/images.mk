# Container images, built offline: no Docker daemon, no registry (docs/images.md).
#
# `make images` builds static binaries (CGO off, -trimpath, version and revision via -ldflags)
# and packs them with hack/imagebuild (a module of its own, so go-containerregistry never enters
# the main go.mod) into docker-archive tarballs under bin/images/, listed in bin/images/images.txt
# as "<tarball> <image ref>". Every file and config time is SOURCE_DATE_EPOCH (default: the last
# commit's time), so the same source gives the same image digests.
#
# VERSION has one source: the chart's appVersion. `make build` links it into the binaries too.

VERSION := $(shell awk '$$1 == "appVersion:" {gsub(/"/, "", $$2); print $$2}' charts/switchboard/Chart.yaml)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
VERSION_PKG := github.com/switchboard-rtc/switchboard/internal/version
VERSION_LDFLAGS := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION)

IMAGES_DIR ?= $(BIN)/images
IMAGE_BIN_DIR ?= $(BIN)/imagebin
IMAGEBUILD := $(BIN)/imagebuild
IMAGE_GO_PKGS := ./cmd/signaling ./cmd/manager ./test/support/pause ./test/support/mediastub
REDIS_SERVER ?= /usr/bin/redis-server

TEST_TARGETS += test-images
TOOL_TARGETS += $(IMAGEBUILD)

.PHONY: images print-version test-images

print-version: ## Print the version (the chart's appVersion) the binaries and images carry
	@echo $(VERSION)

$(IMAGEBUILD): $(call inputs-stamp,imagebuild,hack/imagebuild/go.mod hack/imagebuild/go.sum $(filter-out %_test.go,$(wildcard hack/imagebuild/*.go)))
	cd hack/imagebuild && $(GO) build -o $@ .

# One build at a time (flock): make test runs test-images and test-cluster, both of which build
# the images, at the same time. The tarballs are replaced by rename, so a reader never sees a
# half-written one.
images: $(IMAGEBUILD) ## Build the image tarballs into bin/images/ (signaling, manager + test images)
	@test -x $(REDIS_SERVER) || { echo "images: $(REDIS_SERVER) is missing (apt-get install redis-server)"; exit 1; }
	@mkdir -p $(IMAGE_BIN_DIR)
	flock $(IMAGE_BIN_DIR)/.lock sh -c 'CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" \
		-o $(IMAGE_BIN_DIR)/ $(IMAGE_GO_PKGS) && $(IMAGEBUILD) -bin-dir $(IMAGE_BIN_DIR) -out-dir $(IMAGES_DIR) \
		-version $(VERSION) -revision $(REVISION) -source-date-epoch $(SOURCE_DATE_EPOCH) -redis-server $(REDIS_SERVER)'

# The programs in the images and the version plumbing are tested first; then the tests read the
# tarballs `make images` just wrote, rebuild everything into a temporary directory (same digests
# expected) and parse the Dockerfile.
IMAGE_UNIT_PKGS := ./test/support/... ./internal/version/ ./signaling/metrics/

test-images: images ## Images: reproducible digests, non-root, no shell, labels, entrypoints, Dockerfile parity, --version
	$(GO) test -count=1 $(IMAGE_UNIT_PKGS)
	cd hack/imagebuild && $(GO) vet . && REPO_ROOT=$(CURDIR) IMAGES_DIR=$(IMAGES_DIR) MAKE="$(MAKE)" \
		$(GO) test -count=1 -timeout 10m .

# The Apache-2.0 header goes where the kubebuilder scaffold puts it: Go files under api/,
# controllers/ and cmd/ (test-images checks it). This adds it to files that lack it.
LICENSE_HEADER_DIRS := api controllers cmd

.PHONY: license-headers
license-headers: ## Prepend hack/boilerplate.go.txt to Go files under api/, controllers/, cmd/ that lack it
	@for f in $$(git ls-files -co --exclude-standard $(addsuffix /*.go,$(LICENSE_HEADER_DIRS))); do \
		grep -q "Licensed under the Apache License" "$$f" && continue; \
		{ if head -1 "$$f" | grep -q '^//go:build'; then head -2 "$$f"; cat hack/boilerplate.go.txt; echo; tail -n +3 "$$f"; \
		  else cat hack/boilerplate.go.txt; echo; cat "$$f"; fi; } > "$$f.tmp" && mv "$$f.tmp" "$$f" && echo "header added: $$f"; \
	done
