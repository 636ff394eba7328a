# Lint: formatting, go vet, staticcheck, dead code, references outside the repository and the
# generated package graph. `make lint` runs first in `make test`.
#
# staticcheck and deadcode are built from the Go module proxy with the modules under hack/tools/
# (one module per tool, pinned in its go.mod) into bin/, once, and rebuilt when go.mod changes.

STATICCHECK := $(BIN)/staticcheck
DEADCODE := $(BIN)/deadcode
TOOL_TARGETS += $(STATICCHECK) $(DEADCODE)
GO_FILES = $(shell git ls-files -co --exclude-standard '*.go')

.PHONY: fmt vet lint lint-fmt staticcheck deadcode check-refs check-tool-stamps docs-graph verify-docs-graph

fmt: ## gofmt every Go file
	gofmt -w $(GO_FILES)

vet:
	$(GO) vet ./...

lint: lint-fmt vet check-refs check-tool-stamps verify-docs-graph staticcheck deadcode ## gofmt, go vet, check-refs, tool stamps, package graph, staticcheck, deadcode

lint-fmt:
	@out=$$(gofmt -l $(GO_FILES)); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

$(STATICCHECK): $(call inputs-stamp,staticcheck,hack/tools/staticcheck/go.mod hack/tools/staticcheck/go.sum)
	cd hack/tools/staticcheck && $(GO) build -o $@ honnef.co/go/tools/cmd/staticcheck

$(DEADCODE): $(call inputs-stamp,deadcode,hack/tools/deadcode/go.mod hack/tools/deadcode/go.sum)
	cd hack/tools/deadcode && $(GO) build -o $@ golang.org/x/tools/cmd/deadcode

staticcheck: $(STATICCHECK) ## staticcheck ./... (default checks)
	$(STATICCHECK) ./...

# deadcode reports functions no program or test reaches; it exits 0 either way, so any output
# fails the target.
deadcode: $(DEADCODE) ## deadcode -test ./... must report nothing
	@out=$$($(DEADCODE) -test ./...); \
	if [ -n "$$out" ]; then echo "unreachable code (remove it, or use it):"; echo "$$out"; exit 1; fi

check-refs: ## No reference to files outside the repository; doc links resolve (hack/check-refs.sh)
	hack/check-refs.sh --self-test
	hack/check-refs.sh

check-tool-stamps: ## A fresh clone next to a kept bin/ rebuilds no tool; a changed go.mod rebuilds its own (hack/check-tool-stamps.sh)
	hack/check-tool-stamps.sh

docs-graph: ## Regenerate the package graph in docs/architecture.md (after adding or removing packages)
	hack/pkg-graph.sh --write

verify-docs-graph: ## Fail when the package graph in docs/architecture.md is stale
	hack/pkg-graph.sh --check
