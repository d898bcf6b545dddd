# Nova: `make run` serves on embedded defaults, `make test` runs every suite.
# Both install missing Debian packages first (scripts/deps.sh; root or sudo).
.PHONY: all deps build asan run test unit bench fuzz format clean

BUILD ?= build
ASAN_BUILD ?= build-asan

all: build

deps:
	@bash scripts/deps.sh run

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dc_args=-fno-sanitize-recover=all

asan: $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)

# Serves on 127.0.0.1:8080 with the SQLite store under ./data, printing demo credentials.
run: build
	NOVA_DEMO=true ./$(BUILD)/cmd/novad serve

# Unit, integration (SQLite and PostgreSQL), interop and ASan+UBSan suites.
test:
	@bash scripts/deps.sh test
	@bash scripts/models.sh
	@$(MAKE) --no-print-directory build asan
	@bash tests/run.sh

bench: build
	@bash scripts/deps.sh test
	@bash scripts/models.sh
	@bash bench/run.sh

fuzz:
	@bash scripts/deps.sh test
	@bash fuzz/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
