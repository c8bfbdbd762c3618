# Thin wrapper over the scripts and CMake; see README.md.
.PHONY: all demo test install clean
all:
	scripts/build.sh build
demo:
	scripts/demo.sh
test:
	scripts/test.sh
install: all
	cmake --install build $(if $(PREFIX),--prefix $(PREFIX))
clean:
	rm -rf build build-asan
