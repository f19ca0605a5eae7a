#!/usr/bin/env bash
# `make image`: the node image batpass:local, cached by content.
#  1. the engine answers (scripts/ensure-docker.sh) and the base image exists
#     (scripts/build-base-image.sh, once);
#  2. the wheelhouse build/wheelhouse (pip wheel of batpass and its pinned dependencies from
#     requirements/constraints.txt) is rebuilt when pyproject.toml or the constraints changed,
#     and only batpass's own wheel when only its sources changed;
#  3. the image is tagged by the digest of the wheelhouse, the Dockerfile and the base image, so
#     an unchanged wheelhouse reuses the image without running `docker build` at all.
# Prints the image's content tag (batpass:wh-<digest>) on standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-batpass:local}
BASE_IMAGE=${BASE_IMAGE:-batpass-base:bookworm}
PY=${PY:-.venv/bin/python}
WHEELHOUSE=build/wheelhouse

# one build at a time per checkout: two at once would share build/ (setuptools' build directory,
# the wheelhouse) and the engine's intermediate images, which each build prunes
mkdir -p build
exec 9>build/.image.lock
flock 9

bash scripts/ensure-docker.sh
BASE_IMAGE=$BASE_IMAGE bash scripts/build-base-image.sh

digest_files() { LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16; }
deps=$(printf '%s\0' pyproject.toml requirements/constraints.txt | digest_files)
# (the compiled modules and their C files that `make venv` leaves in src/ are build products)
own=$(find src pyproject.toml setup.py README.md -type f ! -name '*.pyc' ! -name '*.so' ! -name '*.c' \
  ! -path '*/__pycache__/*' -print0 | digest_files)
# the dependencies' wheels in deps/, batpass's own in own/: the image installs them in two layers,
# so a change to batpass alone reuses the dependencies' layer
pip_wheel() {
  "$PY" -m pip wheel --quiet --disable-pip-version-check -c requirements/constraints.txt -w "$1" "${@:2}" . \
    >"$WHEELHOUSE.log" 2>&1 || { grep -v 'is ignored' "$WHEELHOUSE.log" >&2; exit 1; }
}
if [ "$(cat "$WHEELHOUSE/.deps" 2>/dev/null)" != "$deps" ]; then
  echo "building the wheelhouse ($WHEELHOUSE)" >&2
  rm -rf "$WHEELHOUSE" && mkdir -p "$WHEELHOUSE/deps" "$WHEELHOUSE/own"
  pip_wheel "$WHEELHOUSE/deps"
  mv "$WHEELHOUSE"/deps/batpass-*.whl "$WHEELHOUSE/own/"
  echo "$deps" >"$WHEELHOUSE/.deps" && echo "$own" >"$WHEELHOUSE/.own"
elif [ "$(cat "$WHEELHOUSE/.own" 2>/dev/null)" != "$own" ]; then
  echo "building batpass's wheel into $WHEELHOUSE/own" >&2
  rm -f "$WHEELHOUSE"/own/*.whl
  pip_wheel "$WHEELHOUSE/own" --no-deps
  echo "$own" >"$WHEELHOUSE/.own"
fi
base_id=$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE")
tag=batpass:wh-$( { find "$WHEELHOUSE" -name '*.whl' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sed 's| .*/| |';
  sha256sum Dockerfile .dockerignore | sed 's| .*/| |'; echo "$base_id"; } | sha256sum | cut -c1-16)
if ! docker image inspect "$tag" >/dev/null 2>&1; then
  echo "building $tag from $BASE_IMAGE" >&2
  # the classic builder: Debian's docker.io ships no buildx; the build reaches no network. Its
  # multi-stage builds sometimes lose an intermediate layer on a machine's first build ("No such
  # image: sha256:..." after COPY --from; moby/moby#33974 and #37340): a second run finds the
  # layers the first one made, so a failed build is run once more before it counts
  classic_build() {
    local try
    for try in 1 2; do
      if DOCKER_BUILDKIT=0 docker build --quiet --network none --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" . \
        >build/image.log 2>&1; then
        return 0
      fi
      [ "$try" = 1 ] && { echo "docker build failed once; building again:" >&2; tail -3 build/image.log >&2; }
    done
    cat build/image.log >&2
    exit 1
  }
  classic_build -t "$tag"
  # the install stage stays tagged (its layers are the next build's cache: the dependencies'
  # layer); the stages it replaced are removed
  classic_build --target install -t batpass-build:install
  docker image prune --force --filter label=org.batpass.stage=install >/dev/null
  # earlier content tags of this image are superseded by this one
  docker tag "$tag" "$IMAGE"
  docker images --format '{{.Repository}}:{{.Tag}}' batpass | grep ':wh-' | grep -vx "$tag" | xargs -r docker rmi >/dev/null || true
  docker image prune --force --filter label=org.batpass.stage=node >/dev/null
fi
docker tag "$tag" "$IMAGE"
echo "$tag"
